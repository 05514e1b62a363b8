"""Transparency reports: everything the registry knows about one or more runs, as a JSON
document (facts.py), rendered to self-contained HTML or a Hugging Face model card in
Markdown, with plots and image grids computed at report time."""
