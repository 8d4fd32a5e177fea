"""The REST layer of the sandbox IDM: a route table per endpoint (``routing``) with thin handlers that read the
request, call a service and wrap its answer (``config``, ``managed``, ``system``, ``recon``, ``audit``,
``scheduler``, ``script``, ``info``, ``admin``). The services themselves know no ``Request``/``Response``.
"""
