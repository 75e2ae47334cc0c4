"""sf1630: transfer agent for Serviceplatformen's SF1630 SFTP integration."""

__version__ = "0.1.0"
