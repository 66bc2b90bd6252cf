import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Reference matcher for the pattern cross-check (spec R15): reads lines "base64(pattern) TAB base64(value)" and prints
 * one line per input, "1" when java.util.regex matches the whole value ({@code Matcher.matches()}), else "0".
 * Run as: java Tests/java/PatternCheck.java FILE
 */
public class PatternCheck {
    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        StringBuilder out = new StringBuilder();
        Base64.Decoder decoder = Base64.getDecoder();
        for (String line : lines) {
            if (line.isEmpty()) continue;
            String[] parts = line.split("\t", -1);
            String pattern = new String(decoder.decode(parts[0]), StandardCharsets.UTF_8);
            String value = new String(decoder.decode(parts[1]), StandardCharsets.UTF_8);
            out.append(Pattern.compile(pattern).matcher(value).matches() ? "1" : "0").append('\n');
        }
        System.out.print(out);
    }
}
