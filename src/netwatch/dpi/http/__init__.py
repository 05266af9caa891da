"""HTTP/1.x and cleartext HTTP/2: message syntax (:mod:`.h1`), HTTP/2 frames (:mod:`.h2`),
recorded exchanges (:mod:`.txn`), detection (:mod:`.detect`) and the analyzer."""

from netwatch.dpi.http.analyzer import HTTPAnalyzer
from netwatch.dpi.http.detect import METHODS, PORT_HINTS, detect_tcp

__all__ = ["METHODS", "PORT_HINTS", "HTTPAnalyzer", "detect_tcp"]
