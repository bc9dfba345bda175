"""From mentions to codes: index navigation, tabular conventions, policies and sequencing."""
