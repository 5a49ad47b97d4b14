#!/usr/bin/env bash
# Lays out the built jars for Fiji (called by build.sh after the jars are built):
#   BUILD/fiji/plugins/SAMBridge_-VERSION.jar
#   BUILD/fiji/jars/sambridge-client-VERSION.jar, BUILD/fiji/jars/ARTIFACT-VERSION.jar (grpc, netty, protobuf, ...)
#     -> copy fiji/* over Fiji.app/ (the Fiji updater's naming: ARTIFACT-VERSION.jar; Fiji keeps
#        one version per artifact: remove an older ARTIFACT-*.jar of the same artifact in Fiji.app/jars)
#   BUILD/update-site/plugins/SAMBridge_-VERSION.jar-TIMESTAMP, jars/...-TIMESTAMP, db.xml.gz
#     -> the layout of an ImageJ update site (files stored under name-TIMESTAMP, db.xml.gz lists
#        them with their dependencies). Its checksums are plain SHA-1 of the files; Fiji's updater
#        checksums jars by their entries, so publish with Fiji's own uploader (see README) and use
#        this tree to review what a site holds.
# VERSION of our jars: java_bridge/VERSION; of Debian's jars: their Maven pom.properties or manifest.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="${1:-$HERE/build}"
VERSION="$(cat "$HERE/VERSION")"
STAMP="$(date -u +%Y%m%d%H%M%S)"
FIJI="$BUILD/fiji"; SITE="$BUILD/update-site"
rm -rf "$FIJI" "$SITE"; mkdir -p "$FIJI/plugins" "$FIJI/jars" "$SITE/plugins" "$SITE/jars"

# artifact_version JAR : the Maven version inside a jar (pom.properties, else manifest), else "".
artifact_version() {
  local v
  v="$(unzip -p "$1" 'META-INF/maven/*/pom.properties' 2>/dev/null | sed -n 's/^version=//p' | head -1 | tr -d '\r')"
  [[ -n "$v" ]] || v="$(unzip -p "$1" META-INF/MANIFEST.MF 2>/dev/null \
    | sed -n 's/^\(Implementation-Version\|Bundle-Version\): *//p' | head -1 | tr -d '\r')"
  echo "$v"
}

# versioned NAME.jar JAR : NAME-VERSION.jar unless NAME already ends in the version.
versioned() {
  local base="${1%.jar}" v; v="$(artifact_version "$2")"
  base="${base%-"$v"}"
  [[ -n "$v" ]] && echo "$base-$v.jar" || echo "$base.jar"
}

cp "$BUILD/SAMBridge_.jar" "$FIJI/plugins/SAMBridge_-$VERSION.jar"
cp "$BUILD/sambridge-client.jar" "$FIJI/jars/sambridge-client-$VERSION.jar"
for jar in "$BUILD"/lib/*.jar; do
  name="$(basename "$jar")"
  [[ "$name" == sambridge-client.jar ]] && continue
  cp "$jar" "$FIJI/jars/$(versioned "$name" "$jar")"
done

{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<pluginRecords>'
  plugin="plugins/SAMBridge_-$VERSION.jar"
  for f in "$FIJI"/plugins/*.jar "$FIJI"/jars/*.jar; do
    rel="${f#"$FIJI"/}"
    cp "$f" "$SITE/$rel-$STAMP"
    echo " <plugin filename=\"$rel\">"
    echo "  <version checksum=\"$(sha1sum "$f" | cut -d' ' -f1)\" timestamp=\"$STAMP\" filesize=\"$(stat -c %s "$f")\"/>"
    if [[ "$rel" == "$plugin" ]]; then
      echo "  <description>SAMBridge: Segment Anything for microscopy through a SAMBridge gRPC server</description>"
      for dep in "$FIJI"/jars/*.jar; do echo "  <dependency filename=\"jars/$(basename "$dep")\" timestamp=\"$STAMP\"/>"; done
    fi
    echo " </plugin>"
  done
  echo '</pluginRecords>'
} | gzip -9 > "$SITE/db.xml.gz"
echo "fiji/: $(ls "$FIJI/plugins" | tr '\n' ' ')+ $(ls "$FIJI/jars" | wc -l) jars; update-site/: $(find "$SITE" -type f | wc -l) files"
