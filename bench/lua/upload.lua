-- upload: a 1 MiB POST body.
wrk.method = "POST"
wrk.body = string.rep("u", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
