"""Find the WSGI callable named by an application spec, at start-up only.

The spec is gunicorn's: "pkg.module:name", "pkg.module:obj.attr",
"pkg.module:factory(literal, args, key=literal)", or just "pkg.module", in
which case the callable is "application" (wsgiref's convention) or else "app".
"""

import ast
import importlib
import sys


def load(spec):
    module_name, colon, expr = spec.partition(":")
    module_name, expr = module_name.strip(), expr.strip()
    if not module_name or (colon and not expr):
        raise ValueError(f"application spec {spec!r}: expected MODULE:CALLABLE or MODULE")
    module = importlib.import_module(module_name)
    if not expr:
        for name in ("application", "app"):
            if hasattr(module, name):
                obj = getattr(module, name)
                break
        else:
            raise AttributeError(
                f"module {module_name!r} has neither 'application' nor 'app'; "
                f"name the callable: {module_name}:NAME"
            )
    else:
        obj = _evaluate(module, expr, spec)
    if not callable(obj):
        raise TypeError(
            f"application spec {spec!r} names a {type(obj).__name__}, not a WSGI callable"
        )
    # A worker whose configuration defines pre_request or post_request has
    # gowsgi's hooks module: it calls them around the application.
    hooks = sys.modules.get("_gowsgi_hooks")
    if hooks is not None:
        obj = hooks.wrap_application(obj)
    return obj


def _evaluate(module, expr, spec):
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        raise ValueError(
            f"application spec {spec!r}: {expr!r} is not NAME, NAME.ATTR or NAME(args)"
        ) from None
    call = None
    if isinstance(node, ast.Call):
        call, node = node, node.func
    obj = _lookup(module, node, spec)
    if call is None:
        return obj
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {}
        for kw in call.keywords:
            if kw.arg is None:
                raise ValueError("**kwargs")
            kwargs[kw.arg] = ast.literal_eval(kw.value)
    except ValueError:
        raise ValueError(
            f"application spec {spec!r}: factory arguments must be Python literals"
        ) from None
    app = obj(*args, **kwargs)
    if app is None:
        raise TypeError(f"application factory {expr!r} returned None")
    return app


def _lookup(module, node, spec):
    if isinstance(node, ast.Name):
        if not hasattr(module, node.id):
            raise AttributeError(f"module {module.__name__!r} has no attribute {node.id!r}")
        return getattr(module, node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_lookup(module, node.value, spec), node.attr)
    raise ValueError(
        f"application spec {spec!r}: expected NAME, NAME.ATTR or NAME(args) after ':'"
    )
