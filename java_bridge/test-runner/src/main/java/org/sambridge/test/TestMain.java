package org.sambridge.test;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.junit.internal.TextListener;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

/**
 * Runs JUnit 4 test classes and prints a closing line "N passed, N failed".
 * Each argument is either a jar or classes directory, whose test classes are discovered
 * ({@link TestDiscovery}), or the name of one test class. Without arguments, every
 * classpath entry named "*-tests.jar" is searched.
 */
public final class TestMain {
    private static final String TESTS_JAR_SUFFIX = "-tests.jar";

    private TestMain() {
    }

    /**
     * @param args test jars, classes directories or test class names (default: the "*-tests.jar" on the classpath)
     * @throws ClassNotFoundException if a class is missing
     */
    public static void main(String[] args) throws ClassNotFoundException {
        String[] targets = args.length == 0 ? testJarsOnClasspath() : args;
        List<Class<?>> classes = new ArrayList<>();
        for (String arg : targets) {
            File location = new File(arg);
            if (location.exists()) {
                classes.addAll(TestDiscovery.testClasses(location));
            } else {
                classes.add(Class.forName(arg));
            }
        }
        if (classes.isEmpty()) {
            System.out.println("no test classes found in [" + String.join(", ", targets) + "]");
            System.exit(1);
        }
        System.exit(run(classes) ? 0 : 1);
    }

    private static String[] testJarsOnClasspath() {
        List<String> jars = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (entry.endsWith(TESTS_JAR_SUFFIX)) {
                jars.add(entry);
            }
        }
        return jars.toArray(new String[0]);
    }

    private static boolean run(List<Class<?>> classes) {
        JUnitCore core = new JUnitCore();
        core.addListener(new TextListener(System.out));
        Result result = core.run(classes.toArray(new Class<?>[0]));
        for (Failure failure : result.getFailures()) {
            System.out.println("FAILED " + failure.getTestHeader() + ": " + failure.getMessage());
        }
        int failed = result.getFailureCount();
        System.out.println("test classes: " + classes.size());
        System.out.println((result.getRunCount() - failed) + " passed, " + failed + " failed");
        return failed == 0;
    }
}
