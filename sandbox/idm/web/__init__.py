"""The HTTP side of the sandbox IDM: the WSGI application with its request pipeline (``wsgi``), authentication
(``auth``), fault injection (``faults``) and the access log (``access_log``). Requests that pass the pipeline are
answered by the route table of ``sandbox.idm.rest``.
"""
