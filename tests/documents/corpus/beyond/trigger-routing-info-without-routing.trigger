<?xml version="1.0" encoding="UTF-8"?>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
  <FileDescriptor>
    <FileName>KY_LIS_11111111_M03_20180402134858.csv</FileName>
    <SizeInBytes>154645</SizeInBytes>
    <Sender>KY_SFTPSIMPEL</Sender>
    <SendersFileId>0c3e1e0a-5a51-4bd8-9c1b-2f0d1f8e7a10</SendersFileId>
    <Recipients>IKAST-BRANDE_LIS01_SIMPEL</Recipients>
  </FileDescriptor>
  <FileContentDescriptor><SFTPDynamicRoutingInfo>
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
    </SFTPDynamicRoutingInfo></FileContentDescriptor>
</ns2:Trigger>
