package org.sambridge.client;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * How to run {@code sambridge-server} from a Python environment: the path the user set (an
 * environment folder, its {@code sambridge-server} script or its python), else
 * {@code $SAMBRIDGE_PYTHON}, else {@code sambridge-server} on the PATH, else the usual places of
 * virtual and conda environments ({@code ~/.venv}, {@code ~/venv}, {@code ~/sambridge/.venv},
 * {@code ~/miniconda3/envs/sambridge}, {@code ~/miniforge3/envs/sambridge},
 * {@code ~/micromamba/envs/sambridge}, {@code ~/anaconda3/envs/sambridge}).
 */
public final class ServerCommand {
    private static final String SCRIPT = "sambridge-server";
    private static final String[] ENVIRONMENTS = {".venv", "venv", "sambridge/.venv", "miniconda3/envs/sambridge",
        "miniforge3/envs/sambridge", "micromamba/envs/sambridge", "anaconda3/envs/sambridge"};

    private ServerCommand() {
    }

    /**
     * The command that starts the server from a path the user gave.
     *
     * @param path an environment folder, a {@code sambridge-server} script or a python executable
     * @return the command (without server options), or null if the path is none of these
     */
    public static List<String> of(File path) {
        if (path.isDirectory()) {
            for (String bin : new String[] {"bin", "Scripts"}) {
                File script = new File(path, bin + File.separator + SCRIPT);
                if (script.canExecute()) {
                    return new ArrayList<>(Arrays.asList(script.getPath()));
                }
                for (String python : new String[] {"python", "python3", "python.exe"}) {
                    File exe = new File(path, bin + File.separator + python);
                    if (exe.canExecute()) {
                        return pythonModule(exe);
                    }
                }
            }
            return null;
        }
        if (!path.canExecute()) {
            return null;
        }
        return path.getName().startsWith(SCRIPT) ? new ArrayList<>(Arrays.asList(path.getPath())) : pythonModule(path);
    }

    /**
     * Finds a way to run the server.
     *
     * @param configured the path the user set ("" if none)
     * @param env the environment (SAMBRIDGE_PYTHON, PATH)
     * @param home the user's home folder
     * @return the command (without server options), or null if no environment was found
     * @throws IllegalArgumentException if the configured path does not run a server
     */
    public static List<String> find(String configured, Map<String, String> env, File home) {
        if (configured != null && !configured.trim().isEmpty()) {
            List<String> command = of(new File(configured.trim()));
            if (command == null) {
                throw new IllegalArgumentException(configured + " is neither a Python environment, its python nor a "
                        + SCRIPT + " script");
            }
            return command;
        }
        String fromEnv = env.get("SAMBRIDGE_PYTHON");
        if (fromEnv != null && !fromEnv.isEmpty() && of(new File(fromEnv)) != null) {
            return of(new File(fromEnv));
        }
        String path = env.get("PATH");
        for (String dir : path == null ? new String[0] : path.split(File.pathSeparator)) {
            File script = new File(dir, SCRIPT);
            if (!dir.isEmpty() && script.canExecute()) {
                return new ArrayList<>(Arrays.asList(script.getPath()));
            }
        }
        for (String candidate : ENVIRONMENTS) {
            File folder = new File(home, candidate);
            List<String> command = folder.isDirectory() ? of(folder) : null;
            if (command != null && command.get(0).endsWith(SCRIPT)) {
                return command;
            }
        }
        return null;
    }

    private static List<String> pythonModule(File python) {
        return new ArrayList<>(Arrays.asList(python.getPath(), "-m", "sambridge_server"));
    }
}
