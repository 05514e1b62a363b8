"""C2PA provenance for denoised images: signing keys, signing, verification.

This package knows nothing of the registry: it signs a dict of facts it is given and
reports what a manifest says; the registry decides what the facts are and cross-checks
them against its records.
"""
