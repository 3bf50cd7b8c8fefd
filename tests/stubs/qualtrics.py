"""Qualtrics API v3 stub: survey definitions and the asynchronous response export.

* `GET /API/v3/survey-definitions/{surveyId}`: `{"result": {"SurveyID", "SurveyName",
  "Questions": {"QID1": {"QuestionID", "QuestionText", "QuestionType", "Selector",
  "DataExportTag", ...}}}, "meta": {...}}`.
* `POST /API/v3/surveys/{surveyId}/export-responses` (`format`, `compress`,
  `startDate`): `{"result": {"progressId": "ES_...", "percentComplete": 0.0,
  "status": "inProgress"}}`.
* `GET /API/v3/surveys/{surveyId}/export-responses/{progressId}`: in progress
  once, then `{"result": {"fileId": "...", "percentComplete": 100.0, "status":
  "complete"}}`.
* `GET /API/v3/surveys/{surveyId}/export-responses/{fileId}/file`: a zip holding
  `<survey name>.json` = `{"responses": [{"responseId", "values", "labels",
  "displayedFields", "displayedValues"}]}`.
https://api.qualtrics.com/ (Response exports; Survey definitions)
Authentication: header `X-API-TOKEN`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta

from werkzeug import Request, Response

from tests.stubs.common import Faults, json_response

TOKEN = "qx-secret-token-7b31e0"
SURVEY = "SV_3KxRelational"
T0 = datetime(2026, 9, 3, 10, 0, tzinfo=UTC)

MAPPING = f"""\
surveys:
  {SURVEY}:
    touchpoint_field: touchpoint
    questions:
      QID1: {{metric: nps}}
      QID2: {{metric: ces, scale: [1, 7]}}
      QID3_1: {{metric: driver, driver: speed, scale: [1, 5]}}
      QID4_TEXT: {{metric: verbatim}}
    ignore: [QID9]
"""


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def meta() -> dict:
    return {"requestId": "stub-request", "httpStatus": "200 - OK"}


def definition() -> dict:
    def q(qid: str, text: str, qtype: str, selector: str) -> dict:
        return {
            "QuestionID": qid,
            "QuestionText": text,
            "QuestionType": qtype,
            "Selector": selector,
            "DataExportTag": f"Q{qid[3:]}",
            "QuestionDescription": re.sub(r"<[^>]+>", "", text),
            "Validation": {"Settings": {"ForceResponse": "OFF"}},
            "Language": [],
        }

    return {
        "result": {
            "SurveyID": SURVEY,
            "SurveyName": "Relationship survey",
            "SurveyStatus": "Active",
            "Questions": {
                "QID1": q(
                    "QID1", "How likely are you to <b>recommend</b> us to a friend?", "MC", "NPS"
                ),
                "QID2": q("QID2", "How easy was it to get what you needed?", "MC", "SAVR"),
                "QID3": q("QID3", "Rate us on: Speed", "Matrix", "Likert"),
                "QID4": q("QID4", "What is the main reason for your score?", "TE", "ML"),
                "QID7": q("QID7", "Which plan are you on?", "MC", "SAVR"),
                "QID9": q("QID9", "May we contact you?", "MC", "SAVR"),
            },
            "Blocks": {},
            "SurveyFlow": {},
        },
        "meta": meta(),
    }


def response(i: int, nps: int, ces: int | None, speed: int | None, text: str = "", **more) -> dict:
    recorded = T0 + timedelta(days=i, minutes=i)
    values = {
        "startDate": _ts(recorded - timedelta(minutes=3)),
        "endDate": _ts(recorded - timedelta(seconds=5)),
        "status": 0,
        "ipAddress": "192.0.2.1",
        "progress": 100,
        "duration": 175,
        "finished": 1,
        "recordedDate": _ts(recorded),
        "_recordId": f"R_stub{i:04d}",
        "locationLatitude": "52.52",
        "locationLongitude": "13.40",
        "distributionChannel": "email",
        "userLanguage": "EN",
        "externalDataReference": f"cus_Q{i}",
        "touchpoint": "TP-ONBOARD",
        "QID1": nps,
        "QID1_DO": ["1", "2"],
        "QID9": 1,
        "QID8_FIRST_CLICK": 1.2,
        **more,
    }
    if ces is not None:
        values["QID2"] = ces
    if speed is not None:
        values["QID3_1"] = speed
    if text:
        values["QID4_TEXT"] = text
    return {
        "responseId": f"R_stub{i:04d}",
        "values": values,
        "labels": {"status": "IP Address", "finished": "True", "QID1": str(nps)},
        "displayedFields": ["QID1", "QID2", "QID3_1", "QID4_TEXT"],
        "displayedValues": {"QID1": list(range(11))},
    }


#: NPS 10, 9, 9, 7, 3 -> 3 promoters, 1 detractor of 5 -> 40. CES 7, 6, 5, 2 (no
#: answer in response 5). Speed 5, 4, 4, 3, 1.
RESPONSES = [
    response(1, 10, 7, 5, "Fast delivery, thank you"),
    response(2, 9, 6, 4),
    response(3, 9, 5, 4, "Mail me at jo@example.com"),
    response(4, 7, 2, 3),
    response(5, 3, None, 1, "Nobody answered the phone"),
]


class QualtricsStub:
    def __init__(self) -> None:
        self.faults = Faults()
        self.responses = list(RESPONSES)
        self.jobs: dict[str, dict] = {}
        self.fail_exports = 0
        self.export_bodies: list[dict] = []

    def add(self, resp: dict) -> None:
        self.responses.append(resp)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("X-API-TOKEN") == TOKEN

    def _denied(self) -> Response:
        return json_response(
            {"meta": {"httpStatus": "401 - Unauthorized", "error": {"errorCode": "AUTH"}}}, 401
        )

    def definitions(self, request: Request) -> Response:
        if not self.authorized(request):
            return self._denied()
        if not request.path.endswith(SURVEY):
            return json_response({"meta": {"httpStatus": "404 - Not Found"}}, 404)
        return json_response(definition())

    def exports(self, request: Request) -> Response:
        if not self.authorized(request):
            return self._denied()
        parts = request.path.rstrip("/").split("/")
        # /API/v3/surveys/{sid}/export-responses[/{progressId}[/file]]
        tail = parts[parts.index("export-responses") + 1 :]
        if request.method == "POST" and not tail:
            fault = self.faults.check("export_start")
            if fault:
                return fault
            body = request.get_json()
            self.export_bodies.append(body)
            start = body.get("startDate")
            chosen = [
                r
                for r in self.responses
                if not start or r["values"]["recordedDate"] >= _normal(start)
            ]
            job = f"ES_stub{len(self.jobs) + 1}"
            failed = self.fail_exports > 0
            self.fail_exports = max(0, self.fail_exports - 1)
            self.jobs[job] = {"responses": chosen, "polls": 0, "failed": failed}
            return json_response(
                {
                    "result": {"progressId": job, "percentComplete": 0.0, "status": "inProgress"},
                    "meta": meta(),
                }
            )
        if len(tail) == 1:
            job = self.jobs[tail[0]]
            job["polls"] += 1
            if job["failed"]:
                result = {
                    "percentComplete": 40.0,
                    "status": "failed",
                    "error": {"errorCode": "EXPORT_FAILED", "errorMessage": "stub failure"},
                }
            elif job["polls"] < 2:
                result = {"percentComplete": 50.0, "status": "inProgress", "fileId": None}
            else:
                result = {
                    "percentComplete": 100.0,
                    "status": "complete",
                    "fileId": f"{tail[0]}-file",
                }
            return json_response({"result": result, "meta": meta()})
        if len(tail) == 2 and tail[1] == "file":
            fault = self.faults.check("export_file")
            if fault:
                return fault
            job = self.jobs[tail[0].removesuffix("-file")]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(
                    "Relationship survey.json", json.dumps({"responses": job["responses"]})
                )
            return Response(buffer.getvalue(), content_type="application/octet-stream")
        return json_response({"meta": {"httpStatus": "404 - Not Found"}}, 404)

    def register(self, server) -> None:  # noqa: ANN001 - pytest_httpserver.HTTPServer
        server.expect_request(
            re.compile(r"^/API/v3/survey-definitions/[^/]+$")
        ).respond_with_handler(self.definitions)
        server.expect_request(
            re.compile(r"^/API/v3/surveys/[^/]+/export-responses.*$")
        ).respond_with_handler(self.exports)

    def env(self, base_url: str, mapping_path: str) -> dict[str, str]:
        return {
            "QUALTRICS_DATA_CENTER": "fra1",
            "QUALTRICS_API_TOKEN": TOKEN,
            "QUALTRICS_MAPPING": mapping_path,
            "QUALTRICS_BASE_URL": base_url,
            "QUALTRICS_POLL_SECONDS": "0.01",
        }


def _normal(instant: str) -> str:
    """An ISO instant in the export's own form, for string comparison."""
    dt = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(UTC)
    return _ts(dt)
