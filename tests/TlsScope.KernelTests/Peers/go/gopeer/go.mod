module gopeer

go 1.15
