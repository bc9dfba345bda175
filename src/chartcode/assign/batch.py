"""Code many notes: JSONL in, exactly one JSONL line out per input line, in order, on all cores.

Input lines are ``{"id", "text", "setting"?, "date_of_service"?, "policy"?, "patient"?: {"age", "sex"}}``;
fields given on a line override the defaults. ``text`` is a plain-text note, a FHIR JSON or C-CDA XML
document as a string, or a FHIR resource as a JSON object; it goes to the coder as is. A line that cannot
be coded becomes ``{"id": <id or null>, "line": N, "error": {"code", "message", "fix"}}`` and the batch
goes on. Error messages name the line, the field and the fix; they never echo field values (the note
text, dates of service and patient data are PHI).

With several jobs, worker processes (spawn-safe) each build the coder once in the pool initializer, and
:func:`code_batch` yields results in input order. :func:`run_batch_file` writes them to a file with a
flush per line and resumes an interrupted run without redoing finished lines.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import IO, Any

from chartcode.assign.api import POLICIES, SETTINGS, CoderLike, CodingOptions
from chartcode.errors import BadDateError, ChartcodeError, InputError

CoderFactory = Callable[[], CoderLike]
"""Builds a coder; called once per worker process. Must be picklable when ``jobs > 1``."""

Line = str | bytes
Record = dict[str, Any]

_EXAMPLE = '{"id": "1", "text": "..."}'
_JSON_FIX = f"write one JSON object per line, e.g. {_EXAMPLE}."
MAX_AGE = 130


class CoderFailureError(ChartcodeError):
    """The coder raised something other than a ChartcodeError on one line (a bug in the coder)."""

    code = "CC300"


class BatchOutputMismatchError(InputError):
    """The existing output file of a resumed batch does not belong to this input."""


class _RemoteError(ChartcodeError):
    """A ChartcodeError raised in a worker process, rebuilt in the parent with its original code."""

    def __init__(self, code: str, message: str, fix: str | None) -> None:
        self.code = code
        super().__init__(message, fix)


def default_coder_factory(kb_path: Path | None = None) -> CoderLike:
    """The real coder on the knowledge base at ``kb_path`` (default: the installed one)."""
    from chartcode.assign.coder import Coder
    from chartcode.codesets.kb import open_kb

    coder: CoderLike = Coder(open_kb(kb_path))
    return coder


# --- one line -------------------------------------------------------------------------------


class _LineError(Exception):
    def __init__(self, line_id: str | int | None, error: ChartcodeError) -> None:
        super().__init__(error.message)
        self.line_id = line_id
        self.error = error


def _input_error(line: int, problem: str, fix: str) -> InputError:
    return InputError(f"line {line} {problem}", fix)


def _clean_id(value: Any) -> str | int | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def line_id(raw: Line) -> str | int | None:
    """The ``id`` of an input line, or None when the line has no usable id (used to match outputs)."""
    try:
        obj = json.loads(_strip_eol(raw))
    except (ValueError, UnicodeDecodeError):
        return None
    return _clean_id(obj.get("id")) if isinstance(obj, dict) else None


def _strip_eol(raw: Line) -> Line:
    return raw.rstrip(b"\r\n") if isinstance(raw, bytes) else raw.rstrip("\r\n")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def parse_line(raw: Line, line: int, defaults: CodingOptions) -> tuple[str | int, str, CodingOptions]:
    """Validate one input line: ``(id, text, options)`` or a ``_LineError`` naming the field and the fix."""
    stripped = _strip_eol(raw)
    if isinstance(stripped, bytes):
        try:
            stripped = stripped.decode("utf-8")
        except UnicodeDecodeError:
            raise _LineError(
                None, _input_error(line, "is not valid UTF-8.", "save the file as UTF-8.")
            ) from None
    if not stripped.strip():
        raise _LineError(None, _input_error(line, "is empty.", f"{_JSON_FIX} Remove blank lines."))
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON ({exc.msg} at column {exc.colno})."
        raise _LineError(None, _input_error(line, problem, _JSON_FIX)) from None
    if not isinstance(obj, dict):
        raise _LineError(None, _input_error(line, f"is {_json_kind(obj)}, not a JSON object.", _JSON_FIX))

    ident = _clean_id(obj.get("id"))

    def fail(problem: str, fix: str, error: type[ChartcodeError] = InputError) -> _LineError:
        return _LineError(ident, error(f"line {line}: {problem}", fix))

    if "id" not in obj or obj["id"] is None:
        raise fail('field "id" is missing.', 'give every line an "id" (a string or an integer).')
    if ident is None:
        raise fail(
            'field "id" must be a string or an integer.', 'give every line an "id" (a string or an integer).'
        )

    text = obj.get("text")
    if text is None:
        raise fail('field "text" is missing.', 'put the note in "text".')
    if isinstance(text, dict):
        text = json.dumps(text, ensure_ascii=False)  # a FHIR resource given as an object
    if not isinstance(text, str):
        raise fail(
            'field "text" must be a string (or a FHIR resource object).',
            'put the note in "text" as a JSON string.',
        )
    if not text.strip():
        raise fail('field "text" is empty.', 'put the note in "text", or remove the line.')

    options = defaults
    if obj.get("setting") is not None:
        if obj["setting"] not in SETTINGS:
            raise fail(
                'field "setting" must be "outpatient" or "inpatient".', 'use "outpatient" or "inpatient".'
            )
        options = replace(options, setting=obj["setting"])
    if obj.get("policy") is not None:
        if obj["policy"] not in POLICIES:
            raise fail(
                'field "policy" must be "billing" or "all-mentions".', 'use "billing" or "all-mentions".'
            )
        options = replace(options, policy=obj["policy"])
    if obj.get("date_of_service") is not None:
        day = obj["date_of_service"]
        try:
            if not isinstance(day, str) or len(day) != 10:
                raise ValueError
            options = replace(options, date_of_service=date.fromisoformat(day))
        except ValueError:
            raise fail(
                'field "date_of_service" is not a valid date.',
                "write it as YYYY-MM-DD, e.g. 2024-08-15.",
                BadDateError,
            ) from None
    billed = obj.get("billed_em")
    if billed is not None:
        from chartcode.assign.em import EmBilledCodeError, check_billed_em

        try:
            options = replace(options, billed_em=check_billed_em(billed if isinstance(billed, str) else ""))
        except EmBilledCodeError as exc:
            fix = exc.fix or 'write it like "99214", or leave it out.'
            raise fail('field "billed_em" is not a 5-character CPT/HCPCS code.', fix) from None
    patient = obj.get("patient")
    if patient is not None:
        if not isinstance(patient, dict):
            raise fail('field "patient" must be an object.', 'write it like {"age": 67, "sex": "F"}.')
        age = patient.get("age")
        if age is not None:
            if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE:
                raise fail(
                    f'field "patient.age" must be a whole number from 0 to {MAX_AGE}.',
                    "give the age in years at the date of service, e.g. 67.",
                )
            options = replace(options, patient_age=age)
        sex = patient.get("sex")
        if sex is not None:
            if not isinstance(sex, str) or sex.upper() not in ("F", "M"):
                raise fail('field "patient.sex" must be "F" or "M".', 'use "F" or "M", or leave it out.')
            options = replace(options, patient_sex="F" if sex.upper() == "F" else "M")
    return ident, text, options


def error_record(line: int, line_id: str | int | None, error: ChartcodeError) -> Record:
    return {
        "id": line_id,
        "line": line,
        "error": {"code": error.code, "message": error.message, "fix": error.fix},
    }


def _where(exc: BaseException) -> str:
    """`` in coder.py:123``: where an exception was raised (file name and line only, no values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""


def _jsonable(value: Any) -> Any:
    """Tuples (from ``dataclasses.asdict``) as lists, so a record equals its JSON round trip."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class LineCoder:
    """Codes one input line into one output record; never raises for a bad line or a coder failure."""

    def __init__(self, coder: CoderLike, defaults: CodingOptions, *, timing: bool = False) -> None:
        self.coder = coder
        self.defaults = defaults
        self.timing = timing

    def __call__(self, item: tuple[int, Line]) -> Record:
        line, raw = item
        try:
            ident, text, options = parse_line(raw, line, self.defaults)
        except _LineError as exc:
            return error_record(line, exc.line_id, exc.error)
        start = time.perf_counter()
        try:
            result = self.coder.code(text, options)
        except ChartcodeError as exc:
            return error_record(line, ident, exc)
        except Exception as exc:  # a coder bug: its message may quote the note, so only its type is kept
            failure = CoderFailureError(
                f"line {line}: the coder failed ({type(exc).__name__}{_where(exc)}).",
                "report it as a bug with the line number; the other lines are not affected.",
            )
            return error_record(line, ident, failure)
        record: Record = {"id": ident, **_jsonable(result.to_dict())}
        if self.timing:
            record["seconds"] = time.perf_counter() - start
        return record


# --- many lines -----------------------------------------------------------------------------

_worker: LineCoder | None = None
_worker_error: dict[str, Any] | None = None


def _init_worker(factory: CoderFactory, defaults: CodingOptions, timing: bool) -> None:
    """Pool initializer: build the coder once per process. Errors are kept and reported by the tasks
    (an initializer that raises would make the pool respawn workers forever)."""
    global _worker, _worker_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled once, by the parent
    try:
        _worker = LineCoder(factory(), defaults, timing=timing)
    except ChartcodeError as exc:
        _worker_error = {"code": exc.code, "message": exc.message, "fix": exc.fix}
    except Exception as exc:
        _worker_error = {
            "code": CoderFailureError.code,
            "message": f"the coder could not be built ({type(exc).__name__}: {exc}).",
            "fix": "check the coder factory and the knowledge base.",
        }


def _worker_task(item: tuple[int, Line]) -> Record:
    if _worker is None:
        return {"__worker_error__": _worker_error}
    return _worker(item)


def default_jobs() -> int:
    """The CPUs this process may run on (respects affinity and container CPU sets where visible)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_chunksize(jobs: int, total: int | None) -> int:
    """Small enough to keep all workers busy to the end, large enough to amortise the pickling."""
    if total is None:
        return 4
    return max(1, min(32, total // (jobs * 8)))


def code_batch(
    lines: Iterable[Line],
    *,
    coder_factory: CoderFactory,
    defaults: CodingOptions,
    jobs: int = 1,
    first_line: int = 1,
    total: int | None = None,
    chunksize: int | None = None,
    timing: bool = False,
) -> Generator[Record, None, None]:
    """Code JSONL ``lines`` (str or bytes, with or without the newline): one record per line, in order.

    ``first_line`` numbers the first line (for error records after a resume); ``total``, when known,
    caps the number of worker processes and sets the chunk size; ``timing`` adds ``seconds`` (the
    coder's time on the line) to every coded record. Raises a ChartcodeError only when the coder cannot
    be built at all.
    """
    rest = enumerate(lines, first_line)
    first = next(rest, None)
    if first is None:
        return  # nothing to code: do not build the coder
    numbered: Iterator[tuple[int, Line]] = itertools.chain([first], rest)
    workers = max(1, min(jobs, total)) if total is not None else max(1, jobs)
    if workers == 1:
        line_coder = LineCoder(coder_factory(), defaults, timing=timing)
        for item in numbered:
            yield line_coder(item)
        return
    size = chunksize or default_chunksize(workers, total)
    # Bound the lines in flight: Pool.imap would otherwise read the whole input ahead into memory.
    # The pool's feeder thread blocks on the window; ``stop`` frees it when the consumer leaves early
    # (an error, Ctrl-C), since terminating the pool waits for that thread.
    window = threading.Semaphore(max(size * workers * 4, 64))
    stop = threading.Event()

    def throttled() -> Iterator[tuple[int, Line]]:
        for item in numbered:
            while not window.acquire(timeout=0.1):
                if stop.is_set():
                    return
            yield item

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(coder_factory, defaults, timing)) as pool:
        try:
            for record in pool.imap(_worker_task, throttled(), chunksize=size):
                window.release()
                if "__worker_error__" in record:
                    err = record["__worker_error__"]
                    raise _RemoteError(err["code"], err["message"], err["fix"])
                yield record
        finally:
            stop.set()


def dumps(record: Record) -> str:
    """One output line (with its newline)."""
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"


# --- files and resume -----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSummary:
    input: str
    output: str | None
    lines: int  # input lines in total
    resumed: int  # lines already in the output file and skipped
    coded: int  # lines coded in this run
    errors: int  # of those, error records
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_lines(path: Path) -> int:
    """Lines in a file the way :func:`read_lines` splits it (a last line without newline counts)."""
    count = 0
    last = b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def resume_point(existing: bytes, input_lines: Iterator[Line], name: str, input_name: str) -> tuple[int, int]:
    """Check the ``existing`` content of output file ``name`` against the input: ``(complete lines, bytes
    to keep)``.

    Consumes the first ``complete lines`` lines of ``input_lines``. A torn last line (no newline, or not
    valid JSON) is not counted and is cut off by the caller; anything else that does not match raises
    :class:`BatchOutputMismatchError` and the output file is left untouched.
    """
    parts = existing.split(b"\n")
    complete, tail = parts[:-1], parts[-1]
    fix = f"write to another --output path, or delete {name} to start over."
    keep = 0
    done = 0
    for i, raw in enumerate(complete, 1):
        try:
            rec = json.loads(raw)
            if not isinstance(rec, dict) or "id" not in rec:
                raise ValueError
        except ValueError:
            if i == len(complete) and not tail:
                break  # a torn last line that happens to end with a newline: redo it
            raise BatchOutputMismatchError(
                f"{name} line {i} is not an output record of `chartcode code`; "
                "the file is not a batch output and was left untouched.",
                fix,
            ) from None
        expected = next(input_lines, None)
        if expected is None:
            raise BatchOutputMismatchError(
                f"{name} has more lines than the input {input_name}; it was written for another input "
                "and was left untouched.",
                fix,
            )
        want = line_id(expected)
        got = rec["id"]
        same = type(want) is type(got) and want == got and rec.get("line", i) == i
        if not same:
            raise BatchOutputMismatchError(
                f"{name} line {i} does not belong to line {i} of {input_name} (the ids differ); it was "
                "written for another input and was left untouched.",
                fix,
            )
        keep += len(raw) + 1
        done = i
    return done, keep


def run_batch_file(
    input_path: Path | None,
    output_path: Path | None,
    *,
    coder_factory: CoderFactory,
    defaults: CodingOptions,
    jobs: int = 1,
    show_progress: bool = False,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
) -> BatchSummary:
    """Code a JSONL file (``None``: standard input) into ``output_path`` (``None``: standard output).

    An existing ``output_path`` is resumed: its complete lines, checked against the input ids, are kept
    and the remaining input lines are coded and appended (a torn last line is cut off and redone).
    Every line is flushed as soon as it is written.
    """
    started = time.perf_counter()
    input_name = input_path.name if input_path is not None else "standard input"
    if input_path is not None and not input_path.is_file():
        raise InputError(f"input file {input_path} does not exist.", "give the path of a JSONL file.")
    if input_path is not None and output_path is not None and output_path.resolve() == input_path.resolve():
        raise InputError(f"--output {output_path} is the input file.", "write the results to another file.")
    total = count_lines(input_path) if input_path is not None else None
    with ExitStack() as stack:
        source: IO[bytes] = (
            stack.enter_context(input_path.open("rb"))
            if input_path is not None
            else (stdin or sys.stdin.buffer)
        )
        lines: Iterator[bytes] = iter(source)
        resumed = 0
        write: Callable[[str], None]
        if output_path is not None:
            output_path.parent.mkdir(parents=True, exist_ok=True)
            sink = stack.enter_context(output_path.open("a+b"))
            _lock(sink, output_path)
            sink.seek(0)
            resumed, keep = resume_point(sink.read(), lines, output_path.name, input_name)
            sink.truncate(keep)  # a torn last line; appends go to the (new) end

            def write(text: str) -> None:
                sink.write(text.encode("utf-8"))
                sink.flush()

        else:
            out = stdout or sys.stdout

            def write(text: str) -> None:
                out.write(text)
                out.flush()

        remaining = None if total is None else total - resumed
        records = code_batch(
            lines,
            coder_factory=coder_factory,
            defaults=defaults,
            jobs=jobs,
            first_line=resumed + 1,
            total=remaining,
        )
        stack.callback(records.close)  # stops the workers at once if writing fails
        coded = errors = 0
        with _Progress(show_progress, remaining) as advance:
            for record in records:
                write(dumps(record))
                coded += 1
                errors += "error" in record
                advance("error" in record)
    return BatchSummary(
        input=str(input_path) if input_path is not None else "-",
        output=str(output_path) if output_path is not None else None,
        lines=resumed + coded,
        resumed=resumed,
        coded=coded,
        errors=errors,
        seconds=time.perf_counter() - started,
    )


def _lock(fh: IO[bytes], path: Path) -> None:
    """Hold an exclusive advisory lock on the output while writing (POSIX; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(
            f"{path.name} is being written by another `chartcode code` run.",
            "wait for it to finish (or stop it), then run again to resume.",
        ) from None


class _Progress:
    """A rich progress bar on stderr (only when asked, i.e. when stderr is a terminal)."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self.enabled = enabled
        self.total = total
        self.errors = 0

    def __enter__(self) -> Callable[[bool], None]:
        if not self.enabled:
            return lambda _error: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("coding"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]} error(s)"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task("coding", total=self.total, errors=0)
        return self._advance

    def _advance(self, error: bool) -> None:
        self.errors += error
        self.bar.update(self.task, advance=1, errors=self.errors)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()


def factory_for(
    kb_path: Path | None, builder: Callable[[Path | None], CoderLike] = default_coder_factory
) -> CoderFactory:
    """A picklable zero-argument factory: ``builder(kb_path)`` in each worker."""
    return partial(builder, kb_path)
