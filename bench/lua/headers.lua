-- environ_heavy: ten request headers for the application to read.
for i = 0, 9 do
  wrk.headers["X-Header-" .. i] = "value-number-" .. i
end
