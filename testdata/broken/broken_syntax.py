"""A module with a syntax error."""

def application(environ, start_response)
    return []
