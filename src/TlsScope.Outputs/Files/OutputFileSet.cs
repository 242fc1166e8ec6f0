namespace TlsScope.Outputs.Files;

/// <summary>
/// Every output file of one run, opened all or nothing once every other check has passed: if one
/// cannot be opened, the files this run created are removed and existing ones were never touched.
/// Two outputs on one file (the same device and inode, whatever the paths say, standard output
/// included) are refused. Existing files are emptied only by <see cref="Commit"/>, when the
/// capture starts; disposing an uncommitted set abandons it.
/// </summary>
public sealed class OutputFileSet : IDisposable
{
    private readonly List<OutputFile> _files;
    private bool _committed;

    private OutputFileSet(List<OutputFile> files) => _files = files;

    /// <summary>One output a run asks for: the option that names it, its path ("-" for standard
    /// output), and whether it must be a regular file (rewritten in place).</summary>
    public readonly record struct Request(string Option, string Path, bool RegularOnly = false);

    public IReadOnlyList<OutputFile> Files => _files;

    /// <summary>The file opened for <paramref name="option"/>.</summary>
    public OutputFile this[string option] => _files.First(f => f.Option == option);

    /// <exception cref="OutputException">One output is refused; nothing is left behind.</exception>
    public static OutputFileSet Open(IEnumerable<Request> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var files = new List<OutputFile>();
        try
        {
            string? toStandardOutput = null;
            foreach (Request request in requests)
            {
                if (IsStandardOutput(request.Path))
                {
                    if (toStandardOutput is not null)
                    {
                        throw new OutputException(toStandardOutput == "-o"
                            ? $"{request.Option} -: standard output carries the main output already; give a file (or -o FILE)"
                            : $"{request.Option} -: standard output is taken by {toStandardOutput} already");
                    }

                    toStandardOutput = request.Option;
                    continue;
                }

                OutputFile file = OutputFile.Open(request.Option, request.Path, request.RegularOnly, files);
                files.Add(file);
                if (files.FirstOrDefault(f => f != file && f.Status.SameFile(file.Status)) is { } earlier)
                {
                    throw new OutputException($"{file.Label}: the same file as {earlier.Label}");
                }
            }

            if (toStandardOutput is not null && StandardOutput.Status() is { } stdout && (stdout.IsRegular || stdout.IsFifo)
                && files.FirstOrDefault(f => f.Status.SameFile(stdout)) is { } shared)
            {
                throw new OutputException($"{shared.Label}: the same file as standard output, which {toStandardOutput} writes");
            }

            return new OutputFileSet(files);
        }
        catch
        {
            foreach (OutputFile file in files)
            {
                file.Abandon();
            }

            throw;
        }
    }

    /// <summary>"-" and the names of file descriptor 1.</summary>
    public static bool IsStandardOutput(string path) =>
        path is SecureFile.StandardOutputPath or "/dev/stdout" or "/dev/fd/1" or "/proc/self/fd/1";

    /// <summary>The capture starts: existing files are replaced now. If one cannot be, nothing
    /// this run created is left behind.</summary>
    /// <exception cref="OutputException">A file cannot be replaced.</exception>
    public void Commit()
    {
        foreach (OutputFile file in _files)
        {
            file.Commit();
        }

        _committed = true;
    }

    public void Dispose()
    {
        foreach (OutputFile file in _files)
        {
            if (_committed)
            {
                file.Dispose();
            }
            else
            {
                file.Abandon();
            }
        }
    }
}
