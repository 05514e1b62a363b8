"""Errors a user can fix. The CLI prints them on one line and exits with code 2."""


class RegistryError(Exception):
    """Bad input or state: unknown run, bad config, unreadable image, unsafe path..."""


class NotFoundError(RegistryError):
    """A named record (run, dataset, image) does not exist."""
