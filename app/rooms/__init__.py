"""Classrooms: a teacher's page leads the pages of the students in the room.

    POST   /api/v1/rooms                     a room: its code and the teacher's token
    GET    /api/v1/rooms/{room}/events       server-sent events: the room's state, live
    PUT    /api/v1/rooms/{room}/state        the teacher's view (bearer token)
    POST   /api/v1/rooms/{room}/answers      a student's answer to the open question
    DELETE /api/v1/rooms/{room}              the teacher ends the class (bearer token)
    GET    /api/v1/rooms/{room}/qr.svg       the QR code of the room's link

The modules: ``hub`` (what a hub does, and the pieces both hubs share: codes, tokens, the
events as bytes, a client's bounded queue), ``memory`` (the hub of one process, the default),
``redis_hub`` (the hub of several workers or replicas: Redis's pub/sub and the state with its
expiry), ``models`` (the JSON in and out), ``stream`` (an event stream with its heartbeats),
``qr`` (the QR code) and ``routes`` (the thin routes). docs/CONTRACT.md names the JSON.
"""
