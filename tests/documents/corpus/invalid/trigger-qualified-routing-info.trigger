<?xml version="1.0" encoding="UTF-8"?>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
  <FileDescriptor>
    <FileName>AULA_LIS_29189617_M02_20240301123005.csv</FileName>
    <SizeInBytes>77</SizeInBytes>
    <Sender>AULA_SFTPSIMPEL</Sender>
    <Recipients>ROUTING_V1_0_0</Recipients>
  </FileDescriptor>
  <FileContentDescriptor><ns2:SFTPDynamicRoutingInfo>
      <InfRef>KommunalLedelseInformationOverfør_1</InfRef>
      <SenderIt-system>6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c</SenderIt-system>
      <SenderAuthority>urn:oio:cvr-nr:29189617</SenderAuthority>
      <TransactionId>a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d</TransactionId>
      <SenderTimestamp>2024-03-01T12:30:05.123</SenderTimestamp>
      <RecipientIt-system>9e8d7c6b-5a49-4382-b716-0f1e2d3c4b5a</RecipientIt-system>
      <RecipientAuthority>urn:oio:cvr-nr:29189617</RecipientAuthority>
      <RouteParameterList>
        <RouteParameter><ns2:RouteSelectionValueDate xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">2024-03-01</ns2:RouteSelectionValueDate></RouteParameter>
      </RouteParameterList>
    </ns2:SFTPDynamicRoutingInfo></FileContentDescriptor>
</ns2:Trigger>
