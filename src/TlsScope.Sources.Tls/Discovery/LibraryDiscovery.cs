using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Probes;
using TlsScope.Engine;
using TlsScope.Engine.Processes;
using TlsScope.Engine.Model;
using TlsScope.Engine.Targets;

namespace TlsScope.Sources.Tls.Discovery;

/// <summary>A file examined as a TLS library: its identity, symbols and family.</summary>
public sealed record ExaminedLibrary(FileIdentity Id, ElfSymbols Elf, LibraryFamily Family);

/// <summary>
/// Finds TLS libraries: the linker cache, every ssl library or TLS-exporting executable mapped by
/// a running process (private copies count), and paths the user names. Each file (by inode) is
/// examined once; later scans only look at processes not seen before.
/// </summary>
/// <param name="traced">The kernel's live set of a pid target (followed forks included).</param>
public sealed class LibraryDiscovery(Target target, Func<int, bool> traced, IReadOnlyList<LibraryFamily> families)
{
    private readonly int? _targetPid = target.SinglePid;
    // Start-up, the discovery thread, the index thread and the exec thread all scan. A monitor: a
    // scan waits (Monitor.Wait) for a file another is examining rather than miss it.
    private readonly object _gate = new();
    private readonly DependencyResolver _dependencies = new();

    // Libraries first seen through an exec, and the processes known to use them: when all are
    // gone, the library's probes can go (see Reclaimable).
    private readonly Dictionary<FileIdentity, Ephemeral> _ephemeral = [];

    /// <summary>An exec-found library's known users, the programs whose execs brought it in
    /// (held again once its probes are gone), and when a user was last seen alive.</summary>
    private sealed class Ephemeral(int pid, FileIdentity program)
    {
        public HashSet<int> Users { get; } = [pid];

        public HashSet<FileIdentity> Programs { get; } = [program];

        public DateTime LastSeen { get; set; } = DateTime.UtcNow;
    }

    /// <summary>How long a library started through an exec keeps its probes after its last
    /// known user exited (it may run again).</summary>
    private static readonly TimeSpan EphemeralGrace = TimeSpan.FromSeconds(3);

    /// <summary>A process's maps are read again on each scan for this long after it is first
    /// seen: its loader or a dlopen may map TLS libraries after exec.</summary>
    private static readonly TimeSpan YoungProcess = TimeSpan.FromSeconds(5);

    private readonly Dictionary<FileIdentity, TlsLibrary?> _examined = [];
    private readonly HashSet<FileIdentity> _examining = [];
    private readonly Dictionary<int, DateTime> _firstSeen = [];

    // By library id (the kernel's attach cookie): a file found again after its probes were removed
    // gets its old id back, so ids stay few (key layouts are kept per id) and names stay right.
    private readonly List<TlsLibrary?> _libraries = [];
    private volatile string[] _names = []; // a snapshot per change: the decoder reads it per record
    private readonly Dictionary<FileIdentity, int> _ids = [];

    /// <summary>The libraries with probes now.</summary>
    public IReadOnlyList<TlsLibrary> Libraries
    {
        get
        {
            lock (_gate)
            {
                return _libraries.OfType<TlsLibrary>().ToArray();
            }
        }
    }

    /// <summary>Every library's name by id, removed ones included (records may still name them).</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>A path to the program a process runs that names the very file: its own path, the
    /// same path inside the process's root (a container), or /proc/PID/exe while it lives. By
    /// inode: the kernel's device number of a file is not always stat's (btrfs subvolumes).</summary>
    private static string? ExecutablePath(int pid, FileIdentity id)
    {
        var proc = $"/proc/{pid}/exe";
        string? real;
        try
        {
            real = new FileInfo(proc).LinkTarget?.Replace(" (deleted)", "");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (real is not null && FileIdentity.Of(real)?.Inode == id.Inode)
        {
            return real;
        }

        if (real is not null && FileIdentity.Of($"/proc/{pid}/root{real}")?.Inode == id.Inode)
        {
            return $"/proc/{pid}/root{real}";
        }

        return FileIdentity.Of(proc)?.Inode == id.Inode ? proc : null;
    }

    /// <summary>Looks at everything there is now; returns the libraries not found before.</summary>
    public List<TlsLibrary> ScanAll()
    {
        var found = new List<TlsLibrary>();
        if (_targetPid is null)
        {
            foreach (var path in LinkerCache.Find(name => families.Any(f => f.MayBe(name))))
            {
                if (FileIdentity.Of(path) is { } id)
                {
                    Consider(path, id, found);
                }
            }
        }

        foreach (var pid in Pids())
        {
            lock (_gate)
            {
                _firstSeen.TryAdd(pid, DateTime.UtcNow);
            }

            ScanProcess(pid, found);
        }

        return found;
    }

    /// <summary>Looks at processes started since the last scan (and young ones again).</summary>
    public List<TlsLibrary> ScanNew()
    {
        var found = new List<TlsLibrary>();
        var now = DateTime.UtcNow;
        var alive = new HashSet<int>();
        foreach (var pid in Pids())
        {
            alive.Add(pid);
            DateTime seen;
            lock (_gate)
            {
                if (!_firstSeen.TryGetValue(pid, out seen))
                {
                    _firstSeen[pid] = seen = now;
                }
            }

            if (_targetPid is not null || now - seen <= YoungProcess)
            {
                ScanProcess(pid, found);
            }
        }

        lock (_gate)
        {
            foreach (var gone in _firstSeen.Keys.Where(p => !alive.Contains(p)).ToList())
            {
                _firstSeen.Remove(gone);
            }
        }

        return found;
    }

    /// <summary>A path the user named with --binary, examined already by <see cref="Examine"/>.</summary>
    public TlsLibrary AddExplicit(string path, ExaminedLibrary library)
    {
        lock (_gate)
        {
            if (_examined.TryGetValue(library.Id, out var known) && known is not null)
            {
                return known;
            }

            return Add(path, library.Id, library.Family, library.Elf);
        }
    }

    /// <summary>Reads a --binary path and finds its family; every reason to refuse it is a
    /// one-line CaptureException naming <paramref name="option"/> as the user typed it, so it can
    /// be checked before anything else happens.</summary>
    public static ExaminedLibrary Examine(string path, IReadOnlyList<LibraryFamily> families, string option = "--binary")
    {
        if (path.Length == 0)
        {
            throw new CaptureException($"{option} '': empty path");
        }

        if (!File.Exists(path))
        {
            throw new CaptureException(Directory.Exists(path) ? $"{option} {path}: is a directory" : $"{option} {path}: no such file");
        }

        var id = FileIdentity.Of(path) ?? throw new CaptureException($"{option} {path}: cannot stat the file");
        ElfSymbols elf;
        try
        {
            elf = ElfSymbols.Open(path);
        }
        catch (ElfFormatException e)
        {
            throw new CaptureException($"{option} {path}: {Tail(e.Message, path)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaptureException($"{option} {path}: cannot read it ({e.Message.ToLowerInvariant()})");
        }
        ElfSymbols? symbols = null;
        LibraryFamily? family = null;
        try
        {
            (family, symbols) = LibraryFamily.Match(path, elf, families) ?? default;
        }
        catch (ElfFormatException e)
        {
            throw new CaptureException($"{option} {path}: {Tail(e.Message, path)}");
        }

        if (family is null || symbols is null)
        {
            var reason = families.Select(f => f.Explain?.Invoke(path)).FirstOrDefault(r => r is not null)
                ?? "no TLS functions found (OpenSSL's SSL_read and SSL_write, GnuTLS's gnutls_record_recv and _send, NSS's libssl3 "
                + "with SSL_ImportFD, or a Go binary with crypto/tls); is it stripped, or statically linked without exporting them?";
            throw new CaptureException($"{option} {path}: {reason}");
        }

        return new ExaminedLibrary(id, symbols, family);
    }

    private static string Tail(string message, string path) =>
        message.StartsWith(path + ": ", StringComparison.Ordinal) ? message[(path.Length + 2)..] : message;

    /// <summary>The processes whose libraries matter: the target's (by scope; uid and name filters
    /// are the kernel's, a library is a file every process may map).</summary>
    private IEnumerable<int> Pids() => _targetPid is { } p ? [p]
        : target.Scope == TargetScope.Everything ? ProcMaps.AllPids()
        : ProcMaps.AllPids().Where(pid => target.InScope(pid, traced));

    /// <summary>A traced process runs a new program: the program and every library its loader
    /// will map (<see cref="DependencyResolver"/>, inside the process's root) are looked at now,
    /// before the loader has even mapped them, so their first TLS call is seen. Returns every TLS
    /// library among them, found before or not: the caller makes sure each has its probes before
    /// the program runs (another thread may be attaching one right now). The process is young
    /// again, so a library it opens later (dlopen) is found by the next scans.</summary>
    public List<TlsLibrary> ScanExec(ExecEvent exec)
    {
        var found = new List<TlsLibrary>();
        var pid = exec.Process.Pid;
        lock (_gate)
        {
            _firstSeen[pid] = DateTime.UtcNow;
        }

        if (ExecutablePath(pid, exec.Executable) is not { } exe)
        {
            return found; // gone already
        }

        if (ExePath(pid) is { } seen)
        {
            var root = DependencyResolver.RootOf(pid);
            ScanProgram(exe, exec.Executable, root, DependencyResolver.InRoot(pid, root, seen), DependencyResolver.LibraryPathOf(pid), found, (pid, exec.Executable));
        }

        return found;
    }

    /// <summary>A program about to run (launch mode): it and the libraries its loader will map;
    /// every TLS library among them, as <see cref="ScanExec"/>.</summary>
    public List<TlsLibrary> ScanProgram(string path, IReadOnlyList<string> libraryPath)
    {
        var found = new List<TlsLibrary>();
        if (FileIdentity.Of(path) is { } id)
        {
            ScanProgram(path, id, "/", path, libraryPath, found, user: null);
        }

        return found;
    }

    private void ScanProgram(string exe, FileIdentity id, string root, string inRoot, IReadOnlyList<string> libraryPath, List<TlsLibrary> found, (int Pid, FileIdentity Program)? user)
    {
        Consider(exe, id, found, user, includeKnown: true);
        foreach (var library in _dependencies.Resolve(root, inRoot, libraryPath).Skip(1))
        {
            if (families.Any(f => f.MayBe(Path.GetFileName(library))) && FileIdentity.Of(library) is { } libraryId)
            {
                Consider(library, libraryId, found, user, includeKnown: true);
            }
        }
    }

    private void ScanProcess(int pid, List<TlsLibrary> found)
    {
        var exe = ExePath(pid);
        foreach (var m in ProcMaps.ExecutableFiles(pid))
        {
            if (IsExamined(m.Identity))
            {
                AddUser(m.Identity, pid);
                continue;
            }

            var name = Path.GetFileName(m.Path);
            if (m.Path == exe || families.Any(f => f.MayBe(name)))
            {
                Consider(ProcMaps.ReachablePath(m), m.Identity, found);
            }
        }
    }

    private static string? ExePath(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget?.Replace(" (deleted)", "");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The start-up index's files: a TLS-capable one is examined (and returned when new),
    /// any other is marked examined, so an exec of it is not looked at again.</summary>
    public List<TlsLibrary> AddIndexed(IEnumerable<(string Path, FileIdentity Id, LibraryFamily? Family)> files)
    {
        var found = new List<TlsLibrary>();
        foreach (var (path, id, family) in files)
        {
            if (family is null)
            {
                lock (_gate)
                {
                    _examined.TryAdd(id, null);
                }
            }
            else
            {
                Consider(path, id, found);
            }
        }

        return found;
    }

    /// <summary>Libraries started through an exec whose known users have all exited, long enough
    /// ago: candidates for <see cref="TryReclaim"/>.</summary>
    public List<TlsLibrary> Reclaimable()
    {
        var now = DateTime.UtcNow;
        lock (_gate)
        {
            var idle = new List<TlsLibrary>();
            foreach (var (id, state) in _ephemeral.ToList())
            {
                if (IsIdle(state, now) && _examined.GetValueOrDefault(id) is { } lib)
                {
                    idle.Add(lib);
                }
            }

            return idle;
        }
    }

    /// <summary>Forgets a library whose probes are about to go, if it is still idle (an exec may
    /// have found a new user since <see cref="Reclaimable"/>): the next exec or scan finds it anew,
    /// with its old id. Its symbols are dropped. Returns the programs whose execs brought it in
    /// (to be held again), or null when it is not to be reclaimed.</summary>
    public IReadOnlyCollection<FileIdentity>? TryReclaim(TlsLibrary lib)
    {
        lock (_gate)
        {
            if (!_ephemeral.TryGetValue(lib.Identity, out var state) || !IsIdle(state, DateTime.UtcNow)
                || !ReferenceEquals(_examined.GetValueOrDefault(lib.Identity), lib))
            {
                return null;
            }

            _ephemeral.Remove(lib.Identity);
            _examined.Remove(lib.Identity);
            _libraries[lib.Id] = null;
            return state.Programs;
        }
    }

    /// <summary>Under the gate: no known user left, for longer than the grace (a user seen alive
    /// restarts the grace).</summary>
    private static bool IsIdle(Ephemeral state, DateTime now)
    {
        state.Users.RemoveWhere(pid => !Directory.Exists($"/proc/{pid}"));
        if (state.Users.Count > 0)
        {
            state.LastSeen = now;
            return false;
        }

        return now - state.LastSeen > EphemeralGrace;
    }

    private void AddUser(FileIdentity id, int pid)
    {
        lock (_gate)
        {
            if (_ephemeral.TryGetValue(id, out var state))
            {
                state.Users.Add(pid);
            }
        }
    }

    private bool IsExamined(FileIdentity id)
    {
        lock (_gate)
        {
            return _examined.ContainsKey(id);
        }
    }

    /// <summary>Examines a file once (by identity): the ELF read happens outside the lock, so a
    /// scan of a large file never holds up an exec's attach; a scan that meets a file another is
    /// examining waits for the answer instead of missing it.</summary>
    /// <param name="user">The process an exec found it for: the library is ephemeral (its probes
    /// go when its users have exited), unless something else found it first.</param>
    /// <param name="includeKnown">Add a TLS library examined before to <paramref name="found"/> too.</param>
    private void Consider(string path, FileIdentity id, List<TlsLibrary> found, (int Pid, FileIdentity Program)? user = null, bool includeKnown = false)
    {
        lock (_gate)
        {
            while (_examining.Contains(id))
            {
                Monitor.Wait(_gate);
            }

            if (_examined.TryGetValue(id, out var known))
            {
                if (user is { } by && _ephemeral.TryGetValue(id, out var state))
                {
                    state.Users.Add(by.Pid);
                    state.Programs.Add(by.Program);
                }

                if (includeKnown && known is not null)
                {
                    found.Add(known);
                }

                return;
            }

            _examining.Add(id);
        }

        TlsLibrary? lib = null;
        try
        {
            var elf = ElfSymbols.Open(path);
            if (LibraryFamily.Match(path, elf, families) is var (family, symbols))
            {
                lock (_gate)
                {
                    lib = Add(path, id, family, symbols);
                    if (user is { } pid)
                    {
                        _ephemeral[id] = new Ephemeral(pid.Pid, pid.Program);
                    }
                }
            }
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            // not ours to report: discovery looks at many files
        }
        finally
        {
            lock (_gate)
            {
                _examined.TryAdd(id, null);
                _examining.Remove(id);
                Monitor.PulseAll(_gate);
            }
        }

        if (lib is not null)
        {
            found.Add(lib);
        }
    }

    /// <summary>Under the gate.</summary>
    private TlsLibrary Add(string path, FileIdentity id, LibraryFamily family, ElfSymbols elf)
    {
        if (!_ids.TryGetValue(id, out var number))
        {
            _ids[id] = number = _libraries.Count;
            _libraries.Add(null);
        }

        var lib = new TlsLibrary(number, path, id, family, elf);
        _libraries[number] = lib;
        var names = _names.Length > number ? (string[])_names.Clone() : [.. _names, .. new string[number + 1 - _names.Length]];
        names[number] = lib.Name;
        _names = names;
        _examined[id] = lib;
        return lib;
    }
}
