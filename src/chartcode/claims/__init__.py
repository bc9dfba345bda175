"""Claims out and remittances in: X12 837P and FHIR Claim generation, fee-schedule pricing, 835 parsing and
denial analytics. Builds on :mod:`chartcode.edits.model` (the claim as the scrubber sees it)."""
