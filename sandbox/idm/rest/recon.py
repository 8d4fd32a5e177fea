"""REST routes of ``/openidm/recon`` and ``recon/assoc`` (the service is ``sandbox.idm.sync.recon.ReconService``).

``POST recon?_action=recon|reconById&mapping=...`` starts a run, ``GET recon`` lists runs, ``GET recon/<id>``
reads one, ``POST recon/<id>?_action=cancel`` cancels it, ``DELETE recon/<id>`` purges it. ``recon/assoc``
answers GET only: the analysis summaries, one of them, or its entries (``recon/assoc/<id>/entry``).
"""

from __future__ import annotations

import dataclasses

from ..crest import project
from ..errors import IdmError
from ..sync.recon import ReconService
from . import params
from .http import Request, Response
from .routing import Route, fail, method_not_allowed


class ReconRoutes:
    def __init__(self, recon: ReconService) -> None:
        self.recon = recon

    def routes(self) -> list[Route]:
        assoc_only_get = method_not_allowed("recon/assoc")
        return [
            Route("recon/assoc", {"GET": self.assoc_list}, otherwise=assoc_only_get),
            Route("recon/assoc/{recon_id}", {"GET": self.assoc_read}, otherwise=assoc_only_get),
            Route("recon/assoc/{recon_id}/entry", {"GET": self.assoc_entries}, otherwise=assoc_only_get),
            Route("recon/assoc/{deeper+}", {"GET": fail(404, "Not Found")}, otherwise=assoc_only_get),
            Route("recon", {"POST": self.start, "GET": self.list_runs}, otherwise=method_not_allowed("recon")),
            Route(
                "recon/{recon_id}",
                {"GET": self.read, "POST": self.cancel, "DELETE": self.purge},
                otherwise=self.not_allowed_on_run,
            ),
            Route("recon/{deeper+}", otherwise=fail(404, "Not Found")),
        ]

    # --- runs ----------------------------------------------------------------------------------------------------
    def start(self, request: Request) -> Response:
        return Response(
            200,
            self.recon.start_action(request.action, request.query, request.body, request.principal or "openidm-admin"),
        )

    def list_runs(self, request: Request) -> Response:
        return Response(200, {"_id": "", "reconciliations": self.recon.list_runs()})

    def read(self, request: Request, recon_id: str) -> Response:
        return Response(200, project(self.recon.summary(recon_id), params.fields(request)))

    def cancel(self, request: Request, recon_id: str) -> Response:
        if request.action != "cancel":
            raise IdmError(400, f"Action {request.action} on reconciliation not supported")
        return Response(200, self.recon.cancel(recon_id))

    def purge(self, request: Request, recon_id: str) -> Response:
        return Response(200, self.recon.purge(recon_id))

    @staticmethod
    def not_allowed_on_run(request: Request, recon_id: str) -> Response:
        raise IdmError(405, f"Method {request.method} not allowed on recon/{recon_id}")

    # --- recon/assoc ---------------------------------------------------------------------------------------------
    def assoc_list(self, request: Request) -> Response:
        fields = params.fields(request)
        return self._paged(request, self.recon.assoc_summaries(request.query.get("_queryFilter", "true")), fields)

    def assoc_read(self, request: Request, recon_id: str) -> Response:
        return Response(200, project(self.recon.assoc_summary(recon_id), params.fields(request)))

    def assoc_entries(self, request: Request, recon_id: str) -> Response:
        fields = params.fields(request)
        entries = self.recon.assoc_entries(recon_id, request.query.get("_queryFilter", "true"))
        return self._paged(request, entries, fields)

    @staticmethod
    def _paged(request: Request, items: list[dict], fields: list[str] | None) -> Response:
        envelope = dataclasses.replace(params.paging(request), sort_keys=None).apply(items, case_insensitive=False)
        envelope["result"] = [project(item, fields) for item in envelope["result"]]
        return Response(200, envelope)
