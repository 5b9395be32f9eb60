"""The web pages served beside the HTTP API: the staff console and the customer's pages.

:mod:`.links` (signed customer links) is light enough for the worker, which writes links into
messages; :mod:`.pages` and the page modules need FastAPI and are loaded by the API only.
"""
