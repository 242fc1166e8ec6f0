using TlsScope.Engine.Collections;


namespace TlsScope.Tests.Decoding;

public sealed class RecentSetTests
{
    [Fact]
    public void RemembersTheMostRecentOnlyAndRefusesDuplicates()
    {
        var set = new RecentSet<int>(2);
        Assert.True(set.Add(1));
        Assert.False(set.Add(1));
        Assert.True(set.Add(2));
        Assert.True(set.Add(3)); // 1 is forgotten
        Assert.Equal(2, set.Count);
        Assert.False(set.Contains(1));
        Assert.True(set.Add(1));
        Assert.False(set.Contains(2));
    }
}
