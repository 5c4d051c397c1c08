#!/usr/bin/env python3
"""Reads feeds with Python's feedparser and prints what it understood, as JSON.

Usage: feedparser_check.py URL...  (driven by tests/serving_readers.rs)

For every URL: feedparser's bozo flag and exception, the detected version, the feed title and
self link, and per entry the title, link, id, published time (UTC, from feedparser's own
parsed tuple), categories, author, summary and enclosures. JSON Feed URLs are also read with
the json module, since no released feedparser (6.0.x) has a JSON Feed parser.
"""
import calendar
import json
import sys
import urllib.request

try:
    import feedparser
except ImportError:
    print(json.dumps({"error": "feedparser is not installed"}))
    sys.exit(3)


def utc(parsed):
    if not parsed:
        return None
    return calendar.timegm(parsed)


def read(url):
    d = feedparser.parse(url)
    out = {
        "url": url,
        "feedparser_version": feedparser.__version__,
        "bozo": int(d.bozo),
        "bozo_exception": repr(d.get("bozo_exception")) if d.bozo else None,
        "version": d.get("version", ""),
        "status": d.get("status"),
        "title": d.feed.get("title"),
        "self": next(
            (l.get("href") for l in d.feed.get("links", []) if l.get("rel") == "self"), None
        ),
        "ttl": d.feed.get("ttl"),
        "entries": [
            {
                "title": e.get("title"),
                "link": e.get("link"),
                "id": e.get("id"),
                "published": utc(e.get("published_parsed")),
                "updated": utc(e.get("updated_parsed")),
                "tags": [t.get("term") for t in e.get("tags", [])],
                "author": e.get("author"),
                "summary": e.get("summary"),
                "enclosures": [x.get("href") for x in e.get("enclosures", [])],
            }
            for e in d.entries
        ],
    }
    if url.split("?")[0].endswith(".json"):
        with urllib.request.urlopen(url, timeout=30) as response:
            doc = json.load(response)
        out["json"] = {
            "version": doc.get("version"),
            "title": doc.get("title"),
            "self": doc.get("feed_url"),
            "entries": [
                {
                    "title": i.get("title"),
                    "link": i.get("url"),
                    "id": i.get("id"),
                    "published": i.get("date_published"),
                    "tags": i.get("tags", []),
                }
                for i in doc.get("items", [])
            ],
        }
    return out


print(json.dumps([read(url) for url in sys.argv[1:]], ensure_ascii=False))
