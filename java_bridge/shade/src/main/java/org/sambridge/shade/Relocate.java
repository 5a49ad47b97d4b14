package org.sambridge.shade;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.commons.ClassRemapper;
import org.objectweb.asm.commons.Remapper;

/**
 * Build tool (not shipped): merges jars into one and moves the classes of the given packages
 * under a private prefix, so that the Fiji plugin carries its own gRPC, netty, protobuf, guava
 * and perfmark and never resolves a class of the same name that Fiji ships.
 *
 * <pre>
 *   relocate OUT.jar PREFIX PACKAGES JAR...   PREFIX e.g. org/sambridge/shaded/, PACKAGES e.g. io/grpc/,io/netty/
 *   check    JAR PREFIX PACKAGES              fails (exit 1) if any entry, class reference or
 *                                             class-name string of PACKAGES is left unrelocated
 * </pre>
 *
 * Relocation rewrites, with ASM's ClassRemapper: class, field and method references, descriptors,
 * signatures and annotations; string constants that name a class of a relocated package (dotted
 * "io.grpc.X" or internal "io/grpc/X": gRPC and netty load classes and read system properties by
 * such names); META-INF/services files (their names and the provider lines in them, merged across
 * jars: gRPC finds its transport, name resolver and load balancer through ServiceLoader); resources
 * under the relocated paths. Dropped: signatures, INDEX.LIST, module-info, the dependencies'
 * META-INF/maven and META-INF/native-image (they name unrelocated classes and would make Fiji's
 * updater think the jar is grpc/guava). META-INF/io.netty.versions.properties are concatenated.
 */
public final class Relocate {
  private final String prefix;
  private final String[] packages;

  Relocate(String prefix, String packages) {
    this.prefix = prefix.endsWith("/") ? prefix : prefix + "/";
    this.packages = packages.split(",");
    for (String p : this.packages) {
      if (!p.endsWith("/")) throw new IllegalArgumentException("package must end in '/': " + p);
    }
  }

  /** The relocated internal name, or null when {@code name} is not in a relocated package. */
  String mapInternal(String name) {
    for (String p : packages) {
      if (name.startsWith(p)) return prefix + name;
    }
    return null;
  }

  /** The relocated dotted class name, or null. */
  String mapDotted(String name) {
    String internal = mapInternal(name.replace('.', '/'));
    if (internal == null || name.indexOf('/') >= 0) return null;
    return internal.replace('/', '.');
  }

  /** A string constant, relocated when it names something in a relocated package. */
  String mapString(String s) {
    String dotted = mapDotted(s);
    if (dotted != null) return dotted;
    if (s.indexOf('/') > 0 && s.indexOf('.') < 0 || s.endsWith(".class") || s.endsWith(".properties")) {
      String internal = mapInternal(s);
      if (internal != null) return internal;
    }
    return s;
  }

  private final Remapper remapper = new Remapper() {
    @Override
    public String map(String internalName) {
      String mapped = mapInternal(internalName);
      return mapped != null ? mapped : internalName;
    }

    @Override
    public Object mapValue(Object value) {
      if (value instanceof String) return mapString((String) value);
      return super.mapValue(value);
    }
  };

  byte[] relocateClass(byte[] bytes) {
    ClassReader reader = new ClassReader(bytes);
    ClassWriter writer = new ClassWriter(0);
    reader.accept(new ClassRemapper(writer, remapper), 0);
    return writer.toByteArray();
  }

  static boolean dropped(String name) {
    String upper = name.toUpperCase();
    return name.equals("META-INF/MANIFEST.MF") || name.equals("META-INF/INDEX.LIST")
        || name.endsWith("module-info.class")
        || name.startsWith("META-INF/maven/") || name.startsWith("META-INF/native-image/")
        || name.startsWith("META-INF/versions/")
        || (name.startsWith("META-INF/") && (upper.endsWith(".SF") || upper.endsWith(".DSA")
            || upper.endsWith(".RSA") || upper.endsWith(".EC")));
  }

  static boolean merged(String name) {
    return name.startsWith("META-INF/services/") || name.equals("META-INF/io.netty.versions.properties");
  }

  void relocate(String out, List<String> jars, String title, String version) throws IOException {
    Map<String, byte[]> entries = new LinkedHashMap<>();
    Map<String, ByteArrayOutputStream> mergedEntries = new LinkedHashMap<>();
    int classes = 0;
    for (String path : jars) {
      try (JarFile jar = new JarFile(path)) {
        for (JarEntry entry : java.util.Collections.list(jar.entries())) {
          String name = entry.getName();
          if (entry.isDirectory() || dropped(name)) continue;
          byte[] bytes = read(jar.getInputStream(entry));
          if (name.endsWith(".class")) {
            String internal = name.substring(0, name.length() - ".class".length());
            String mapped = mapInternal(internal);
            name = (mapped != null ? mapped : internal) + ".class";
            bytes = relocateClass(bytes);
            classes++;
          } else if (name.startsWith("META-INF/services/")) {
            String service = name.substring("META-INF/services/".length());
            String mapped = mapDotted(service);
            name = "META-INF/services/" + (mapped != null ? mapped : service);
            bytes = relocateServiceFile(bytes);
          } else {
            String mapped = mapInternal(name);
            if (mapped != null) name = mapped;
          }
          if (merged(name)) {
            ByteArrayOutputStream buffer = mergedEntries.computeIfAbsent(name, k -> new ByteArrayOutputStream());
            buffer.write(bytes);
            if (bytes.length > 0 && bytes[bytes.length - 1] != '\n') buffer.write('\n');
          } else if (!entries.containsKey(name)) {
            entries.put(name, bytes);
          } else if (!Arrays.equals(entries.get(name), bytes) && name.endsWith(".class")) {
            throw new IOException("two different classes named " + name + " (second in " + path + ")");
          }
        }
      }
    }
    for (Map.Entry<String, ByteArrayOutputStream> e : mergedEntries.entrySet()) {
      entries.put(e.getKey(), e.getValue().toByteArray());
    }
    Manifest manifest = new Manifest();
    Attributes main = manifest.getMainAttributes();
    main.put(Attributes.Name.MANIFEST_VERSION, "1.0");
    main.put(Attributes.Name.IMPLEMENTATION_TITLE, title);
    main.put(Attributes.Name.IMPLEMENTATION_VERSION, version);
    main.putValue("SAMBridge-Relocated", String.join(",", packages) + " -> " + prefix);
    try (OutputStream file = Files.newOutputStream(Paths.get(out));
         JarOutputStream jar = new JarOutputStream(file, manifest)) {
      TreeSet<String> dirs = new TreeSet<>();
      for (String name : entries.keySet()) {
        for (int i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) dirs.add(name.substring(0, i + 1));
      }
      dirs.remove("META-INF/");
      for (String dir : dirs) {
        jar.putNextEntry(new ZipEntry(dir));
        jar.closeEntry();
      }
      for (Map.Entry<String, byte[]> e : entries.entrySet()) {
        jar.putNextEntry(new ZipEntry(e.getKey()));
        jar.write(e.getValue());
        jar.closeEntry();
      }
    }
    System.out.println("relocated " + classes + " classes from " + jars.size() + " jars into " + out
        + " (" + entries.size() + " entries; " + String.join(",", packages) + " -> " + prefix + ")");
  }

  byte[] relocateServiceFile(byte[] bytes) {
    StringBuilder sb = new StringBuilder();
    for (String line : new String(bytes, StandardCharsets.UTF_8).split("\r?\n")) {
      String trimmed = line.replaceAll("#.*", "").trim();
      String mapped = trimmed.isEmpty() ? null : mapDotted(trimmed);
      sb.append(mapped != null ? mapped : line).append('\n');
    }
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Problems: entries, class references or class-name strings left in a relocated package. */
  List<String> check(String path) throws IOException {
    List<String> problems = new ArrayList<>();
    try (JarFile jar = new JarFile(path)) {
      for (JarEntry entry : java.util.Collections.list(jar.entries())) {
        String name = entry.getName();
        if (mapInternal(name) != null) problems.add("unrelocated entry " + name);
        if (name.startsWith("META-INF/services/")) {
          String service = name.substring("META-INF/services/".length());
          if (mapDotted(service) != null) problems.add("unrelocated service file " + name);
          for (String line : new String(read(jar.getInputStream(entry)), StandardCharsets.UTF_8).split("\n")) {
            String trimmed = line.replaceAll("#.*", "").trim();
            if (!trimmed.isEmpty() && mapDotted(trimmed) != null) problems.add(name + " names " + trimmed);
          }
        }
        if (!name.endsWith(".class")) continue;
        String owner = name;
        Remapper recorder = new Remapper() {
          @Override
          public String map(String internalName) {
            if (mapInternal(internalName) != null) problems.add(owner + " refers to " + internalName);
            return internalName;
          }

          @Override
          public Object mapValue(Object value) {
            if (value instanceof String && !value.equals(mapString((String) value))) {
              problems.add(owner + " has the string \"" + value + "\"");
            }
            return super.mapValue(value);
          }
        };
        new ClassReader(read(jar.getInputStream(entry))).accept(new ClassRemapper(new ClassWriter(0), recorder), 0);
      }
    }
    return problems;
  }

  static byte[] read(InputStream in) throws IOException {
    try (InputStream input = in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[65536];
      for (int n; (n = input.read(buffer)) > 0; ) out.write(buffer, 0, n);
      return out.toByteArray();
    }
  }

  public static void main(String[] args) throws IOException {
    if (args.length >= 4 && args[0].equals("relocate")) {
      String title = System.getProperty("relocate.title", "SAMBridge");
      String version = System.getProperty("relocate.version", "0");
      new Relocate(args[2], args[3]).relocate(args[1], Arrays.asList(args).subList(4, args.length), title, version);
    } else if (args.length == 4 && args[0].equals("check")) {
      List<String> problems = new Relocate(args[2], args[3]).check(args[1]);
      for (String p : problems.subList(0, Math.min(20, problems.size()))) System.err.println(p);
      if (!problems.isEmpty()) {
        System.err.println(problems.size() + " unrelocated references in " + args[1]);
        System.exit(1);
      }
      System.out.println("check: nothing of " + args[3] + " is left unrelocated in " + args[1]);
    } else {
      System.err.println("usage: relocate OUT.jar PREFIX PACKAGES JAR... | check JAR PREFIX PACKAGES");
      System.exit(2);
    }
  }
}
