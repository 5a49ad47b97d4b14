package org.sambridge.test;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.Test;

/**
 * Finds the JUnit 4 test classes in a jar or a classes directory: top-level classes whose
 * name ends with "Test", that are public and concrete and have at least one {@code @Test}
 * method. A new test class therefore runs without being listed anywhere.
 */
public final class TestDiscovery {
    private static final String SUFFIX = "Test.class";

    private TestDiscovery() {
    }

    /**
     * @param location a jar or a directory of compiled classes (must be on the classpath)
     * @return the test classes, sorted by name
     * @throws ClassNotFoundException if a class file found there cannot be loaded
     */
    public static List<Class<?>> testClasses(File location) throws ClassNotFoundException {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : candidateNames(location)) {
            Class<?> type = Class.forName(name);
            if (isTestClass(type)) {
                classes.add(type);
            }
        }
        return classes;
    }

    /**
     * @param location a jar or a directory of compiled classes
     * @return binary names of the top-level classes named "*Test", sorted
     */
    static TreeSet<String> candidateNames(File location) {
        List<String> paths = location.isDirectory() ? filesUnder(location.toPath()) : jarEntries(location);
        TreeSet<String> names = new TreeSet<>();
        for (String path : paths) {
            String simple = path.substring(path.lastIndexOf('/') + 1);
            if (simple.endsWith(SUFFIX) && !simple.contains("$")) {
                names.add(path.substring(0, path.length() - ".class".length()).replace('/', '.'));
            }
        }
        return names;
    }

    /**
     * @param type a loaded class
     * @return whether JUnit can run it as a test class
     */
    static boolean isTestClass(Class<?> type) {
        int modifiers = type.getModifiers();
        if (!Modifier.isPublic(modifiers) || Modifier.isAbstract(modifiers) || type.isInterface()) {
            return false;
        }
        for (Method method : type.getMethods()) {
            if (method.isAnnotationPresent(Test.class)) {
                return true;
            }
        }
        return false;
    }

    private static List<String> filesUnder(Path root) {
        List<String> paths = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            files.filter(Files::isRegularFile)
                    .forEach(p -> paths.add(root.relativize(p).toString().replace(File.separatorChar, '/')));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
        return paths;
    }

    private static List<String> jarEntries(File jar) {
        List<String> paths = new ArrayList<>();
        try (JarFile file = new JarFile(jar)) {
            for (Enumeration<JarEntry> entries = file.entries(); entries.hasMoreElements();) {
                paths.add(entries.nextElement().getName());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + jar, e);
        }
        return paths;
    }
}
