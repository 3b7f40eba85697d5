"""Fit score-tree weights to outcomes and propose them as an edited copy of chs.yaml."""
