"""The --debug page: an application's exception as HTML, for the browser.

Called only when an application failed before its response began, and only
with --debug. Everything shown comes from the traceback module, and every
piece of text is HTML-escaped: an exception message is the client's input
as often as not.
"""

import html
import linecache
import traceback

CONTEXT = 3  # source lines shown before and after each frame's line

# What Python's own traceback says between chained exceptions.
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT_MESSAGE = "During handling of the above exception, another exception occurred:"

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { color: #a00; margin-bottom: 0.2em; }
.message { font-size: 1.2em; white-space: pre-wrap; }
.warning { background: #fee; border: 1px solid #c66; padding: 0.5em; }
.frame { margin: 1em 0; }
.frame p { margin: 0.2em 0; }
pre { background: #f4f4f4; padding: 0.5em; overflow-x: auto; }
pre .current { background: #fdd; display: block; }
pre .lineno { color: #888; }
.chain { font-style: italic; margin-top: 2em; }
"""


def page(exc):
    te = traceback.TracebackException.from_exception(exc)
    out = []
    summary = "".join(te.format_exception_only()).strip()
    out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
    out.append(f"<title>{_e(summary.splitlines()[0] if summary else '')} (500 Internal Server Error)</title>\n")
    out.append(f"<style>{STYLE}</style>\n</head>\n<body>\n")
    out.append(f"<h1>{_e(_type_name(type(exc)))}</h1>\n")
    out.append(f"<p class=\"message\">{_e(summary)}</p>\n")
    out.append(
        "<p class=\"warning\">The server runs with <code>--debug</code>: it shows this "
        "traceback to every client. Never use <code>--debug</code> in production.</p>\n"
    )
    chain = _chain(te)
    for link, t in chain:
        if link:
            out.append(f"<p class=\"chain\">{_e(link)}</p>\n")
        out.append("<h2>Traceback <small>(most recent call last)</small></h2>\n")
        out.extend(_frames(t.stack))
        if len(chain) > 1:
            # As Python prints it: each exception after its traceback.
            out.append(f"<p class=\"message\">{_e(''.join(t.format_exception_only()).strip())}</p>\n")
    out.append("<h2>As text</h2>\n")
    out.append(f"<pre>{_e(''.join(te.format()))}</pre>\n")
    out.append("</body>\n</html>\n")
    return "".join(out)


def _e(text):
    return html.escape(str(text), quote=True)


def _type_name(cls):
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _chain(te):
    """The exceptions of a chain, oldest first, each with the sentence
    Python puts between it and the one before."""
    chain = [(None, te)]
    seen = {id(te)}
    while True:
        t = chain[-1][1]
        if t.__cause__ is not None:
            nxt, link = t.__cause__, CAUSE
        elif t.__context__ is not None and not t.__suppress_context__:
            nxt, link = t.__context__, CONTEXT_MESSAGE
        else:
            break
        if id(nxt) in seen:
            break
        seen.add(id(nxt))
        # The sentence belongs before the newer exception.
        chain[-1] = (link, t)
        chain.append((None, nxt))
    chain.reverse()
    return chain


def _frames(stack):
    last, repeated = None, 0
    for frame in stack:
        key = (frame.filename, frame.lineno, frame.name)
        if key == last:
            repeated += 1
            continue
        if repeated:
            yield _repeated(repeated)
        last, repeated = key, 0
        yield _frame(frame)
    if repeated:
        yield _repeated(repeated)


def _repeated(n):
    return f"<p>[The frame above repeated {n} more time{'s' if n > 1 else ''}]</p>\n"


def _frame(frame):
    parts = [
        f"<div class=\"frame\">\n<p>File <code>{_e(frame.filename)}</code>, "
        f"line {_e(frame.lineno)}, in <code>{_e(frame.name)}</code></p>\n"
    ]
    lines = linecache.getlines(frame.filename) if frame.lineno else []
    if lines:
        first = max(1, frame.lineno - CONTEXT)
        last = min(len(lines), frame.lineno + CONTEXT)
        parts.append("<pre>")
        for n in range(first, last + 1):
            text = f"<span class=\"lineno\">{n:>5}</span>  {_e(lines[n - 1].rstrip())}"
            if n == frame.lineno:
                text = f"<span class=\"current\">{text}</span>"
            else:
                text += "\n"
            parts.append(text)
        parts.append("</pre>\n")
    elif frame.line:
        parts.append(f"<pre><span class=\"current\">{_e(frame.line)}</span></pre>\n")
    parts.append("</div>\n")
    return "".join(parts)
