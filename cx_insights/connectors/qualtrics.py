"""Qualtrics -> `feedback/questions`, `feedback/responses`, `feedback/answers`.

For each survey of the user's mapping file (`QUALTRICS_MAPPING`, YAML):

1. the survey definition (`GET /API/v3/survey-definitions/{surveyId}`) gives each
   question's text;
2. the asynchronous response export: start it
   (`POST /API/v3/surveys/{surveyId}/export-responses`, JSON, `startDate` = the
   cursor), poll its progress (`GET .../export-responses/{progressId}`) until
   `status` is `complete` (or `failed`), download the file
   (`GET .../export-responses/{fileId}/file`, a zip holding one JSON document) and
   read its `responses` (`responseId`, `values`).

Which exported column measures what is the user's declaration, never a guess:

    surveys:
      SV_abc123:
        touchpoint_id: TP-CHECKOUT          # optional; else `touchpoint_field`
        customer_id_field: externalDataReference   # the default
        questions:
          QID1: {metric: nps}                # scale 0..10
          QID2: {metric: csat, scale: [1, 5]}
          QID3_1: {metric: driver, driver: speed, scale: [1, 5]}
          QID4_TEXT: {metric: verbatim}
        ignore: [QID9]                       # answered, but not a CX metric

An answered column `QID...` that is neither mapped nor ignored stops the pull of
that survey with an error naming the survey, the column, the question's text and
the mapping file (nothing of the survey lands; its cursor stays). Questions land
as `<surveyId>/<column>` (ids are only unique within a survey). The cursor per
survey is the newest `recordedDate` with the response ids recorded at it (the
export's `startDate` is inclusive), moved only when the survey's export has landed.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cx_insights.connectors.http import ApiError, HttpClient
from cx_insights.connectors.landing import PullRun, emit, iso, lineage, now_iso
from cx_insights.connectors.settings import ConnectorError, ConnectorSettings, ConnectorSpec

NAME = "qualtrics"
METRICS = ("nps", "csat", "ces", "driver", "verbatim")
#: Export columns that are question data (`QID12`, `QID3_1`, `QID4_TEXT`, ...).
QUESTION_COLUMN = re.compile(r"^QID\d+(_.+)?$")
#: Per-question metadata columns, never answers (display order, timing clicks).
METADATA_SUFFIXES = ("_DO", "_FIRST_CLICK", "_LAST_CLICK", "_PAGE_SUBMIT", "_CLICK_COUNT")


class MappingError(ConnectorError):
    """The mapping file is missing, unreadable or declares something impossible."""


@dataclass(frozen=True)
class QuestionMap:
    column: str
    metric: str
    driver: str | None = None
    scale: tuple[int, int] | None = None


@dataclass(frozen=True)
class SurveyMap:
    survey_id: str
    questions: dict[str, QuestionMap]
    ignore: tuple[str, ...] = ()
    touchpoint_id: str | None = None
    touchpoint_field: str | None = None
    customer_id_field: str = "externalDataReference"
    channel: str | None = None

    def is_ignored(self, column: str) -> bool:
        if column.endswith(METADATA_SUFFIXES):
            return True
        return any(column == i or column.startswith(f"{i}_") for i in self.ignore)


@dataclass
class QuestionMapping:
    path: Path
    surveys: dict[str, SurveyMap] = field(default_factory=dict)


def load_mapping(path: str | Path) -> QuestionMapping:
    """Read and check the mapping file; MappingError names the file and the entry."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"QUALTRICS_MAPPING {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"QUALTRICS_MAPPING {path}: not valid YAML ({exc})") from None
    surveys = (doc or {}).get("surveys") if isinstance(doc, dict) else None
    if not isinstance(surveys, dict) or not surveys:
        raise MappingError(f"QUALTRICS_MAPPING {path}: expected a 'surveys:' map of survey ids")
    mapping = QuestionMapping(path)
    for sid, body in surveys.items():
        where = f"QUALTRICS_MAPPING {path}: surveys.{sid}"
        if not isinstance(body, dict) or not isinstance(body.get("questions"), dict):
            raise MappingError(f"{where}: expected 'questions:' (column -> metric)")
        questions = {}
        for column, q in body["questions"].items():
            questions[str(column)] = _question(str(column), q, f"{where}.questions.{column}")
        mapping.surveys[str(sid)] = SurveyMap(
            survey_id=str(sid),
            questions=questions,
            ignore=tuple(str(i) for i in body.get("ignore") or ()),
            touchpoint_id=_opt(body.get("touchpoint_id")),
            touchpoint_field=_opt(body.get("touchpoint_field")),
            customer_id_field=_opt(body.get("customer_id_field")) or "externalDataReference",
            channel=_opt(body.get("channel")),
        )
    return mapping


def _opt(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _question(column: str, q: Any, where: str) -> QuestionMap:
    if isinstance(q, str):
        q = {"metric": q}
    if not isinstance(q, dict):
        raise MappingError(f"{where}: expected {{metric: ..., scale: [min, max]}}")
    metric = str(q.get("metric") or "").strip().lower()
    if metric not in METRICS:
        raise MappingError(f"{where}: metric {metric!r} is not one of {', '.join(METRICS)}")
    scale = q.get("scale")
    if metric == "nps":
        scale = scale or [0, 10]
        if list(scale) != [0, 10]:
            raise MappingError(f"{where}: an NPS question has the scale [0, 10], not {scale}")
    if metric == "verbatim":
        scale = None
    elif not (
        isinstance(scale, list | tuple)
        and len(scale) == 2
        and all(isinstance(v, int) for v in scale)
        and scale[0] < scale[1]
    ):
        raise MappingError(f"{where}: a {metric} question needs scale: [min, max] (integers)")
    driver = _opt(q.get("driver"))
    if metric == "driver" and not driver:
        raise MappingError(f"{where}: a driver question names its driver (driver: speed, ...)")
    return QuestionMap(column, metric, driver, tuple(scale) if scale else None)


def question_id(survey_id: str, column: str) -> str:
    return f"{survey_id}/{column}"


def question_rows(survey: SurveyMap, definition: Mapping[str, Any], pulled_at: str) -> list[dict]:
    texts = question_texts(definition)
    where = lineage(NAME, f"survey_definition/{survey.survey_id}", pulled_at)
    return [
        {
            "question_id": question_id(survey.survey_id, q.column),
            "survey_id": survey.survey_id,
            "metric": q.metric,
            "driver": q.driver,
            "scale_min": q.scale[0] if q.scale else None,
            "scale_max": q.scale[1] if q.scale else None,
            "question_text": texts.get(_qid(q.column)),
            **where,
        }
        for q in survey.questions.values()
    ]


def _qid(column: str) -> str:
    return column.split("_", 1)[0]


def question_texts(definition: Mapping[str, Any]) -> dict[str, str]:
    """QID -> its text (HTML tags removed) from a survey definition's `Questions`."""
    questions = (definition.get("result") or definition).get("Questions") or {}
    texts = {}
    for qid, q in questions.items():
        text = re.sub(r"<[^>]+>", " ", str((q or {}).get("QuestionText") or ""))
        texts[str(qid)] = " ".join(text.split())
    return texts


def unmapped_columns(survey: SurveyMap, responses: list[dict]) -> dict[str, int]:
    """Answered question columns the mapping neither maps nor ignores -> responses."""
    counts: dict[str, int] = {}
    for r in responses:
        for column, value in (r.get("values") or {}).items():
            if value in (None, "", []) or not QUESTION_COLUMN.match(column):
                continue
            if column in survey.questions or survey.is_ignored(column):
                continue
            counts[column] = counts.get(column, 0) + 1
    return counts


def response_rows(
    survey: SurveyMap, response: Mapping[str, Any], pulled_at: str
) -> list[tuple[str, dict]]:
    values = response.get("values") or {}
    rid = str(response.get("responseId") or values.get("_recordId"))
    where = lineage(NAME, f"response/{rid}", pulled_at)
    touchpoint = survey.touchpoint_id or (
        _opt(values.get(survey.touchpoint_field)) if survey.touchpoint_field else None
    )
    rows: list[tuple[str, dict]] = [
        (
            "feedback__responses",
            {
                "response_id": rid,
                "survey_id": survey.survey_id,
                "customer_id": _opt(values.get(survey.customer_id_field)),
                "touchpoint_id": touchpoint,
                "channel": survey.channel or _opt(values.get("distributionChannel")),
                "submitted_at": iso(values.get("endDate") or values.get("recordedDate")),
                "qualtrics_recorded_at": iso(values.get("recordedDate")),
                "qualtrics_finished": values.get("finished"),
                **where,
            },
        )
    ]
    for column, q in survey.questions.items():
        value = values.get(column)
        if value in (None, "", []):
            continue
        answer = {"response_id": rid, "question_id": question_id(survey.survey_id, column)}
        if q.metric == "verbatim":
            answer["value_text"] = str(value)
        else:
            answer["value_number"] = value
        rows.append(("feedback__answers", {**answer, **where}))
    return rows


def read_export(payload: bytes) -> list[dict]:
    """The responses of a downloaded export: a zip holding one JSON file, or the JSON."""
    if payload[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".json")]
            if not names:
                raise ConnectorError("qualtrics: the export archive holds no JSON file")
            payload = archive.read(names[0])
    doc = json.loads(payload.decode("utf-8-sig"))
    return list(doc.get("responses") or [])


def _client(settings: ConnectorSettings) -> HttpClient:
    return HttpClient(
        settings.base_url,
        headers={"X-API-TOKEN": settings.get("QUALTRICS_API_TOKEN")},
        secrets=settings.secrets(),
    )


def export_responses(
    client: HttpClient, survey_id: str, start: str | None, settings: ConnectorSettings
) -> list[dict]:
    """Start an export, wait for it, download and read it."""
    base = f"/API/v3/surveys/{survey_id}/export-responses"
    body: dict[str, Any] = {"format": "json", "compress": True}
    if start:
        body["startDate"] = start
    started = client.post_json(base, body).get("result") or {}
    progress_id = started.get("progressId")
    if not progress_id:
        raise ApiError(f"qualtrics: survey {survey_id}: the export started without a progressId")
    poll = float(settings.get("QUALTRICS_POLL_SECONDS", "2"))
    deadline = time.monotonic() + float(settings.get("QUALTRICS_EXPORT_TIMEOUT_SECONDS", "1800"))
    while True:
        result = client.get_json(f"{base}/{progress_id}").get("result") or {}
        status = str(result.get("status") or "")
        if status == "complete" and result.get("fileId"):
            break
        if status == "failed":
            error = result.get("error") or {}
            raise ApiError(
                f"qualtrics: survey {survey_id}: the export failed "
                f"({error.get('errorCode', '?')}: {error.get('errorMessage', 'no reason given')})"
            )
        if time.monotonic() > deadline:
            raise ApiError(
                f"qualtrics: survey {survey_id}: the export was not complete after "
                f"QUALTRICS_EXPORT_TIMEOUT_SECONDS ({result.get('percentComplete', 0)} %)"
            )
        time.sleep(poll)
    file = client.request("GET", f"{base}/{result['fileId']}/file")
    return read_export(file.content)


def build_source(settings: ConnectorSettings, run: PullRun) -> Any:
    import dlt

    @dlt.resource(name="responses")
    def responses() -> Iterator[Any]:
        # One cursor per survey, flat so `cx-insights status` shows it:
        # `<surveyId>.newest_recorded_at` and `<surveyId>.ids_at_newest`.
        state = dlt.current.resource_state()
        try:
            mapping = load_mapping(settings.get("QUALTRICS_MAPPING"))
        except MappingError as exc:
            run.fail("responses", str(exc))
            return
        client = _client(settings)
        for sid, survey in mapping.surveys.items():
            since = state.get(f"{sid}.newest_recorded_at")
            seen = set(state.get(f"{sid}.ids_at_newest", []))
            try:
                definition = client.get_json(f"/API/v3/survey-definitions/{sid}")
                exported = export_responses(client, sid, since, settings)
            except ApiError as exc:
                run.fail("responses", f"survey {sid}: {exc} (its cursor stays where it was)")
                continue
            unmapped = unmapped_columns(survey, exported)
            if unmapped:
                texts = question_texts(definition)
                named = "; ".join(
                    f"{c} ({texts.get(_qid(c)) or 'no text'!r}, answered in {n} responses)"
                    for c, n in sorted(unmapped.items())
                )
                run.fail(
                    "responses",
                    f"survey {sid}: answered questions not in {mapping.path}: {named}. "
                    f"Map each under surveys.{sid}.questions (metric and scale) or list it "
                    "under ignore; nothing of this survey was landed",
                )
                continue
            pulled_at = now_iso()
            for q in question_rows(survey, definition, pulled_at):
                yield emit("feedback__questions", q)
            newest, ids = since, set(seen)
            for response in exported:
                values = response.get("values") or {}
                recorded = iso(values.get("recordedDate")) or ""
                rid = str(response.get("responseId") or values.get("_recordId"))
                if since and (recorded < since or (recorded == since and rid in seen)):
                    continue  # landed by an earlier pull (startDate is inclusive)
                for table, row in response_rows(survey, response, pulled_at):
                    yield emit(table, row)
                if newest is None or recorded > newest:
                    newest, ids = recorded, {rid}
                elif recorded == newest:
                    ids.add(rid)
            if newest:
                state[f"{sid}.newest_recorded_at"] = newest
                state[f"{sid}.ids_at_newest"] = sorted(ids)

    @dlt.source(name=NAME)
    def qualtrics() -> Any:
        return [responses()]

    return qualtrics()


SPEC = ConnectorSpec(
    name=NAME,
    title="Qualtrics",
    required=("QUALTRICS_DATA_CENTER", "QUALTRICS_API_TOKEN", "QUALTRICS_MAPPING"),
    optional=("QUALTRICS_POLL_SECONDS", "QUALTRICS_EXPORT_TIMEOUT_SECONDS"),
    secret_names=("QUALTRICS_API_TOKEN",),
    resources=("responses",),
    build_source=build_source,
    default_base_url=lambda v: f"https://{v.get('QUALTRICS_DATA_CENTER', 'iad1')}.qualtrics.com",
    lands={"responses": "feedback/questions, feedback/responses, feedback/answers"},
)
