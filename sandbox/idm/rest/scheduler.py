"""REST routes of ``/openidm/scheduler`` (the service is ``sandbox.idm.scheduler.SchedulerService``).

``POST scheduler?_action=validateQuartzCronExpression`` with ``{"cronExpression": ...}`` -> ``{"valid": bool}``;
``GET scheduler/job?_queryFilter=...`` (or ``_queryId=query-all-ids``) and ``GET scheduler/job/<name>`` -> the
schedule as ``ScheduleConfig.getConfig()`` returns it plus ``nextRunDate`` (UTC ISO-8601, null when it will not
fire); ``POST scheduler/job?_action=listCurrentlyExecutingJobs|pauseJobs|resumeJobs``.

Choices where the sources are silent: the ``triggers`` list of a job is not returned; creating, changing or deleting
jobs through ``scheduler/job`` (bypassing the config service) answers 501 - use ``config/schedule/<name>``.
"""

from __future__ import annotations

from ..crest import page
from ..errors import IdmError
from ..scheduler import SchedulerService
from .http import Request, Response
from .routing import Route, fail, method_not_allowed

CONFIG_ONLY = "The sandbox manages schedules through config/schedule/<name> only"


class SchedulerRoutes:
    def __init__(self, scheduler: SchedulerService) -> None:
        self.scheduler = scheduler

    def routes(self) -> list[Route]:
        config_only = fail(501, CONFIG_ONLY)
        return [
            Route("scheduler", {"POST": self.validate}, otherwise=method_not_allowed("scheduler")),
            Route("scheduler/job", {"GET": self.query, "POST": self.job_action}, otherwise=config_only),
            Route("scheduler/job/{name}", {"GET": self.read}, otherwise=config_only),
            Route("scheduler/{deeper+}", otherwise=fail(404, "Not Found")),
        ]

    def validate(self, request: Request) -> Response:
        if request.action != "validateQuartzCronExpression":
            raise IdmError(400, f"Unknown action: {request.action}")
        body = request.body if isinstance(request.body, dict) else {}
        expression = body.get("cronExpression")
        if not isinstance(expression, str):
            raise IdmError(400, "Error performing action validateQuartzCronExpression: cronExpression missing")
        return Response(200, {"valid": self.scheduler.valid_cron_expression(expression)})

    def read(self, request: Request, name: str) -> Response:
        return Response(200, self.scheduler.describe_job(name))

    def query(self, request: Request) -> Response:
        query_id = request.query.get("_queryId")
        if query_id is not None and query_id != "query-all-ids":
            raise IdmError(400, "only query-id of 'query-all-ids' is supported.")
        items = self.scheduler.query_jobs(request.query.get("_queryFilter", "true"), ids_only=query_id is not None)
        return Response(200, page(items, None, request.query.get("_pagedResultsCookie")))

    def job_action(self, request: Request) -> Response:
        action = request.action
        if action == "listCurrentlyExecutingJobs":
            return Response(200, self.scheduler.executing_jobs())
        if action in ("pauseJobs", "resumeJobs"):
            self.scheduler.set_paused(action == "pauseJobs")
            return Response(200, {"success": True})
        if action == "create":
            raise IdmError(501, CONFIG_ONLY)
        raise IdmError(400, f"Unknown action: {action}")
