"""Performance scripts: each prints ratios against the peers it names, never pass/fail."""
