namespace TlsScope.Tests.Tools;

/// <summary>A fact only root can check (giving a file to another user): reported skipped, not passed, without root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root")
        {
            Skip = "needs root: gives a file to another user";
        }
    }
}
