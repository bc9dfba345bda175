"""Claim edits: the checks payers apply, as registered rules with ids, severities, fixes and citations."""
