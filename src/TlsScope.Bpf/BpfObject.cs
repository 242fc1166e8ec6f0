using System.Runtime.InteropServices;
using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>
/// A libbpf bpf_object: open from memory, configure (rodata, map sizes), load, then hand out
/// programs and maps. Lifecycle is open -> configure -> load -> attach, as in libbpf-tools.
/// </summary>
public sealed unsafe class BpfObject : SafeHandle
{
    private readonly byte[] _image; // libbpf keeps pointers into the ELF image until close
    private GCHandle _pin;

    private BpfObject(byte[] image, string name) : base(0, ownsHandle: true)
    {
        _image = image;
        Name = name;
        _pin = GCHandle.Alloc(image, GCHandleType.Pinned);
    }

    public string Name { get; }

    public bool Loaded { get; private set; }

    public override bool IsInvalid => handle == 0;

    public static BpfObject Open(byte[] elf, string name)
    {
        var obj = new BpfObject(elf, name);
        var h = LibBpf.ObjectOpenMem((byte*)obj._pin.AddrOfPinnedObject(), (nuint)elf.Length, 0);
        if (h == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            obj.Dispose();
            throw BpfException.FromErrno($"open bpf object {name}", errno);
        }
        obj.SetHandle(h);
        return obj;
    }

    /// <summary>Writes <paramref name="value"/> as the whole initial value of a global-data map,
    /// e.g. ".rodata.config". Only before <see cref="Load"/>.</summary>
    public void SetInitialValue<T>(string mapName, in T value) where T : unmanaged
    {
        EnsureNotLoaded();
        var map = FindMap(mapName);
        var data = LibBpf.MapInitialValue(map, out var size);
        if (data == null || size != (nuint)sizeof(T))
        {
            throw new BpfException($"{Name}: map {mapName} has {size} bytes of initial value, expected {sizeof(T)}");
        }

        *(T*)data = value;
    }

    public void SetMaxEntries(string mapName, uint entries)
    {
        EnsureNotLoaded();
        var rc = LibBpf.MapSetMaxEntries(FindMap(mapName), entries);
        if (rc < 0)
        {
            throw BpfException.FromErrno($"{Name}: resize map {mapName}", rc);
        }
    }

    /// <summary>Excludes a program from loading (e.g. one the kernel cannot run).</summary>
    public void SetAutoload(string programName, bool autoload)
    {
        EnsureNotLoaded();
        LibBpf.ProgramSetAutoload(Program(programName), autoload);
    }

    public void Load()
    {
        EnsureNotLoaded();
        LibBpfLog.Clear();
        var rc = LibBpf.ObjectLoad(handle);
        if (rc < 0)
        {
            var verifier = LibBpfLog.VerifierSummary();
            var hint = verifier is null ? "run with -v for libbpf's log" : $"verifier: {verifier}; run with -v for the full log";
            throw BpfException.FromErrno($"load bpf object {Name}", rc, hint);
        }
        Loaded = true;
    }

    public nint Program(string name)
    {
        var p = LibBpf.FindProgram(handle, name);
        return p != 0 ? p : throw new BpfException($"{Name}: no program named {name}");
    }

    public int MapFd(string name)
    {
        var fd = LibBpf.MapFd(FindMap(name));
        return fd >= 0 ? fd : throw new BpfException($"{Name}: map {name} is not loaded");
    }

    /// <summary>Looks up a key in a map; for per-CPU maps <paramref name="value"/> must hold
    /// one value per possible CPU, each rounded up to 8 bytes.</summary>
    public bool Lookup(string mapName, ReadOnlySpan<byte> key, Span<byte> value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            return LibBpf.MapLookupElem(MapFd(mapName), k, v) == 0;
        }
    }

    /// <summary>Creates or replaces a map element.</summary>
    public void Update(string mapName, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            if (LibBpf.MapUpdateElem(MapFd(mapName), k, v, 0) < 0)
            {
                throw BpfException.FromErrno($"update map {mapName}", Marshal.GetLastPInvokeError());
            }
        }
    }

    /// <summary>Puts a cgroup (v2 directory) at index 0 of a BPF_MAP_TYPE_CGROUP_ARRAY, for
    /// bpf_current_task_under_cgroup; the map keeps the cgroup, not the directory's fd.</summary>
    public void SetCgroup(string mapName, string directory)
    {
        const int ReadOnlyDirectory = 0x10000 | 0x80000; // O_RDONLY | O_DIRECTORY | O_CLOEXEC
        var fd = Libc.Open(directory, ReadOnlyDirectory);
        if (fd < 0)
        {
            throw BpfException.FromErrno($"open cgroup {directory}", Marshal.GetLastPInvokeError());
        }

        try
        {
            var key = 0;
            if (LibBpf.MapUpdateElem(MapFd(mapName), &key, &fd, 0) < 0)
            {
                throw BpfException.FromErrno($"set cgroup {directory} in {mapName}", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Removes a map element; false when there was none.</summary>
    public bool Delete(string mapName, ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key)
        {
            return LibBpf.MapDeleteElem(MapFd(mapName), k) == 0;
        }
    }

    /// <summary>Makes this object use another object's loaded map instead of creating its own
    /// (maps shared between sources, e.g. the target's). Only before <see cref="Load"/>.</summary>
    public void ShareMap(string mapName, BpfObject owner)
    {
        EnsureNotLoaded();
        var rc = LibBpf.MapReuseFd(FindMap(mapName), owner.MapFd(mapName));
        if (rc < 0)
        {
            throw BpfException.FromErrno($"{Name}: share map {mapName} of {owner.Name}", -rc);
        }
    }

    /// <summary>The names of the object's programs (opened or loaded).</summary>
    public IReadOnlyList<string> ProgramNames()
    {
        var names = new List<string>();
        for (var p = LibBpf.NextProgram(handle, 0); p != 0; p = LibBpf.NextProgram(handle, p))
        {
            names.Add(Marshal.PtrToStringUTF8((nint)LibBpf.ProgramName(p))!);
        }

        return names;
    }

    /// <summary>The names of the object's maps, global data (".rodata.config", ...) included.</summary>
    public IReadOnlyList<string> MapNames()
    {
        var names = new List<string>();
        for (var m = LibBpf.NextMap(handle, 0); m != 0; m = LibBpf.NextMap(handle, m))
        {
            names.Add(Marshal.PtrToStringUTF8((nint)LibBpf.MapName(m))!);
        }

        return names;
    }

    private nint FindMap(string name)
    {
        var m = LibBpf.FindMap(handle, name);
        return m != 0 ? m : throw new BpfException($"{Name}: no map named {name}");
    }

    private void EnsureNotLoaded()
    {
        if (Loaded)
        {
            throw new InvalidOperationException($"{Name} is already loaded");
        }
    }

    protected override bool ReleaseHandle()
    {
        if (handle != 0)
        {
            LibBpf.ObjectClose(handle);
        }

        if (_pin.IsAllocated)
        {
            _pin.Free();
        }

        GC.KeepAlive(_image);
        return true;
    }
}
