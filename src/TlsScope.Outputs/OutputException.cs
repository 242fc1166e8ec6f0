using TlsScope.Outputs.Files;

namespace TlsScope.Outputs;

/// <summary>
/// An output could not be opened or written. <see cref="Exception.Message"/> is one lower-case
/// line meant to be shown to the user as is, e.g.
/// <c>cannot write /root/x/y.json: directory not found</c>.
/// </summary>
public sealed class OutputException : Exception
{
    public OutputException(string message)
        : base(message)
    {
    }

    public OutputException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Builds the one-line "cannot write PATH: REASON" error for a failure on <paramref name="path"/>.</summary>
    public static OutputException CannotWrite(string path, Exception cause)
    {
        string target = path == SecureFile.StandardOutputPath ? "to stdout" : OneLine(path);
        return new OutputException($"cannot write {target}: {Describe(cause)}", cause);
    }

    /// <summary>Why an output failed, without its name: the cause of one of ours, or the I/O error itself.</summary>
    public static string Reason(Exception error) => error switch
    {
        OutputException { InnerException: { } cause } => Describe(cause),
        OutputException own => own.Message,
        _ => Describe(error),
    };

    /// <summary>A short lower-case reason for an I/O failure, without the path.</summary>
    public static string Describe(Exception cause) => cause switch
    {
        DirectoryNotFoundException => "directory not found",
        FileNotFoundException => "file not found",
        PathTooLongException => "file name too long",
        UnauthorizedAccessException => "permission denied",
        IOException io when KnownErrno(io.HResult) is { } text => text,
        ArgumentException when cause.Message.Contains("empty", StringComparison.OrdinalIgnoreCase) => "empty path",
        _ => LowerFirst(OneLine(cause.Message)),
    };

    // On Unix, .NET puts the raw errno into HResult for the IOExceptions it cannot map to a
    // more specific type.
    internal static string DescribeErrno(int errno) => KnownErrno(errno) ?? $"error {errno}";

    private static string? KnownErrno(int errno) => errno switch
    {
        1 or 13 => "permission denied",
        2 => "file not found",
        5 => "input/output error",
        6 => "no such device or address",
        12 => "out of memory",
        16 => "device or resource busy",
        17 => "file exists",
        19 => "no such device",
        20 => "not a directory",
        21 => "is a directory",
        23 or 24 => "too many open files",
        26 => "text file busy",
        27 => "file too large",
        28 => "no space left on device",
        30 => "read-only file system",
        32 => "broken pipe",
        36 => "file name too long",
        40 => "too many levels of symbolic links",
        122 => "disk quota exceeded",
        _ => null,
    };

    private static string OneLine(string text)
    {
        if (text.AsSpan().IndexOfAny('\r', '\n') < 0)
        {
            return text.Trim();
        }

        return string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static string LowerFirst(string text)
    {
        text = text.TrimEnd('.');
        if (text.Length == 0)
        {
            return "unknown error";
        }

        // Only lower a leading capital that starts an ordinary word ("Read-only" -> "read-only"),
        // not an acronym ("IO error" stays).
        if (char.IsUpper(text[0]) && (text.Length == 1 || !char.IsUpper(text[1])))
        {
            return char.ToLowerInvariant(text[0]) + text[1..];
        }

        return text;
    }
}
