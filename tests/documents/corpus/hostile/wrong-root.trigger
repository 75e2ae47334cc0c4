<ns2:Order xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types"><Id>1</Id></ns2:Order>
