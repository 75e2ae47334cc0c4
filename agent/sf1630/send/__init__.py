"""Sending: produce an extract, upload data and trigger, read the receipt, clean up."""
