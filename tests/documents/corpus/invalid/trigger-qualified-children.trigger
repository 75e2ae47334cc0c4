<?xml version="1.0" encoding="UTF-8"?>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
  <ns2:FileDescriptor>
    <ns2:FileName>KY_LIS_11111111_M03_20180402134858.csv</ns2:FileName>
    <ns2:SizeInBytes>154645</ns2:SizeInBytes>
    <ns2:Sender>KY_SFTPSIMPEL</ns2:Sender>
    <ns2:SendersFileId>0c3e1e0a-5a51-4bd8-9c1b-2f0d1f8e7a10</ns2:SendersFileId>
    <ns2:Recipients>IKAST-BRANDE_LIS01_SIMPEL</ns2:Recipients>
  </ns2:FileDescriptor>
  <ns2:FileContentDescriptor/>
</ns2:Trigger>
