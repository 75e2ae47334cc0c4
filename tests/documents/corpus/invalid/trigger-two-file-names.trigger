<?xml version="1.0" encoding="UTF-8"?>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
  <FileDescriptor>
    <FileName>KY_LIS_11111111_M03_20180402134858.csv</FileName>
    <FileName>again.csv</FileName><SizeInBytes>154645</SizeInBytes>
    <Sender>KY_SFTPSIMPEL</Sender>
    <SendersFileId>0c3e1e0a-5a51-4bd8-9c1b-2f0d1f8e7a10</SendersFileId>
    <Recipients>IKAST-BRANDE_LIS01_SIMPEL</Recipients>
  </FileDescriptor>
  <FileContentDescriptor/>
</ns2:Trigger>
