"""The machinery that serves any request, whatever its endpoint: the computation processes
(runner), the server's limits and the cost model's budget (limits), HTTP/1.1 with deadlines for
slow clients (protocol), bodies (body), the response cache (cache), security headers
(security) and the memory bound they add up to (memory). It knows no endpoint: the endpoints
(app/endpoints/) hand the runner picklable work."""
