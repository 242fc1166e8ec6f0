namespace TlsScope.Outputs.Files;

/// <summary>Who asked for the capture: root, or under sudo the user who ran sudo (SUDO_UID and
/// SUDO_GID, which only root could have set for a process that runs as root). New output files
/// are given to that user, and their own files may be replaced.</summary>
public readonly record struct InvokingUser(uint Uid, uint Gid)
{
    public static InvokingUser Current { get; } = From(Posix.GetEuid(), Posix.GetEgid(), Environment.GetEnvironmentVariable);

    /// <summary>Whether output files are given to someone else than the process's user (sudo).</summary>
    public bool IsDelegated => Uid != Posix.GetEuid();

    /// <summary>Root, the process's own user, or the user who ran sudo.</summary>
    public bool Trusts(uint owner) => owner == 0 || owner == Posix.GetEuid() || owner == Uid;

    /// <summary>The user behind a process running as <paramref name="euid"/>, from its environment.</summary>
    public static InvokingUser From(uint euid, uint egid, Func<string, string?> environment)
    {
        if (euid == 0
            && uint.TryParse(environment("SUDO_UID"), out uint uid)
            && uint.TryParse(environment("SUDO_GID"), out uint gid))
        {
            return new InvokingUser(uid, gid);
        }

        return new InvokingUser(euid, egid);
    }
}
