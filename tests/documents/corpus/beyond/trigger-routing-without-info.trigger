<?xml version="1.0" encoding="UTF-8"?>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
  <FileDescriptor>
    <FileName>AULA_LIS_29189617_M02_20240301123005.csv</FileName>
    <SizeInBytes>77</SizeInBytes>
    <Sender>AULA_SFTPSIMPEL</Sender>
    <Recipients>ROUTING_V1_0_0</Recipients>
  </FileDescriptor>
  <FileContentDescriptor/>
</ns2:Trigger>
