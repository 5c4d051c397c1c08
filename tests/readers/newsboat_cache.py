#!/usr/bin/env python3
"""Prints the items newsboat stored in its sqlite cache, as JSON.

Usage: newsboat_cache.py CACHE_DB  (driven by tests/serving_readers.rs)
"""
import json
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
feeds = [
    {"rssurl": url, "title": title}
    for url, title in db.execute("SELECT rssurl, title FROM rss_feed ORDER BY rssurl")
]
items = [
    {
        "feedurl": feedurl,
        "title": title,
        "url": url,
        "guid": guid,
        "pubDate": pub_date,
        "author": author,
    }
    for feedurl, title, url, guid, pub_date, author in db.execute(
        "SELECT feedurl, title, url, guid, pubDate, author FROM rss_item "
        "ORDER BY feedurl, pubDate DESC"
    )
]
print(json.dumps({"feeds": feeds, "items": items}, ensure_ascii=False))
