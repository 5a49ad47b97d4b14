#!/usr/bin/env bash
# Lays out the Fiji plugin for Fiji (called by build.sh after SAMBridge_-fiji.jar is built):
#   BUILD/fiji/plugins/SAMBridge_-VERSION.jar
#     -> copy fiji/* over Fiji.app/. The one jar is self-contained: the plugin, the client and
#        the generated stubs, with gRPC, netty, protobuf, guava and perfmark relocated under
#        org.sambridge.shaded (shade/Relocate.java), so nothing goes into Fiji.app/jars and
#        nothing clashes with the versions Fiji ships there.
#   BUILD/update-site/plugins/SAMBridge_-VERSION.jar-TIMESTAMP, db.xml.gz
#     -> the layout of an ImageJ update site (files stored under name-TIMESTAMP, db.xml.gz lists
#        them). Its checksum is plain SHA-1 of the file; Fiji's updater checksums jars by their
#        entries, so publish with Fiji's own uploader (see README) and use this tree to review
#        what a site holds.
# VERSION: java_bridge/VERSION.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="${1:-$HERE/build}"
VERSION="$(cat "$HERE/VERSION")"
STAMP="$(date -u +%Y%m%d%H%M%S)"
FIJI="$BUILD/fiji"; SITE="$BUILD/update-site"
rm -rf "$FIJI" "$SITE"; mkdir -p "$FIJI/plugins" "$SITE/plugins"

cp "$BUILD/SAMBridge_-fiji.jar" "$FIJI/plugins/SAMBridge_-$VERSION.jar"

{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<pluginRecords>'
  for f in "$FIJI"/plugins/*.jar; do
    rel="${f#"$FIJI"/}"
    cp "$f" "$SITE/$rel-$STAMP"
    echo " <plugin filename=\"$rel\">"
    echo "  <version checksum=\"$(sha1sum "$f" | cut -d' ' -f1)\" timestamp=\"$STAMP\" filesize=\"$(stat -c %s "$f")\"/>"
    echo "  <description>SAMBridge: Segment Anything for microscopy through a SAMBridge gRPC server</description>"
    echo " </plugin>"
  done
  echo '</pluginRecords>'
} | gzip -9 > "$SITE/db.xml.gz"
echo "fiji/: $(ls "$FIJI/plugins" | tr '\n' ' ')(self-contained, $(du -k "$FIJI"/plugins/*.jar | cut -f1) KiB); update-site/: $(find "$SITE" -type f | wc -l) files"
