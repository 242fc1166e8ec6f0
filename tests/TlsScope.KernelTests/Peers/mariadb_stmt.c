/* A binary-protocol client: prepares argv[3] on the server at unix socket argv[1] (database
 * argv[2], user root) and executes it once per remaining argument, binding it as the one
 * integer parameter. Prints "rows N" for each execution. Used by MariadbTests: COM_STMT_PREPARE
 * carries the text, COM_STMT_EXECUTE only the statement id and the binary parameter. */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: mariadb_stmt SOCKET DB STATEMENT VALUE...\n");
		return 2;
	}
	MYSQL *db = mysql_init(NULL);
	if (!mysql_real_connect(db, NULL, "root", NULL, argv[2], 0, argv[1], 0)) {
		fprintf(stderr, "connect: %s\n", mysql_error(db));
		return 1;
	}
	MYSQL_STMT *stmt = mysql_stmt_init(db);
	if (mysql_stmt_prepare(stmt, argv[3], strlen(argv[3])) != 0) {
		fprintf(stderr, "prepare: %s\n", mysql_stmt_error(stmt));
		return 1;
	}
	for (int i = 4; i < argc; i++) {
		int value = atoi(argv[i]);
		MYSQL_BIND bind;
		memset(&bind, 0, sizeof(bind));
		bind.buffer_type = MYSQL_TYPE_LONG;
		bind.buffer = &value;
		if (mysql_stmt_bind_param(stmt, &bind) != 0 || mysql_stmt_execute(stmt) != 0) {
			fprintf(stderr, "execute: %s\n", mysql_stmt_error(stmt));
			return 1;
		}
		printf("rows %llu\n", (unsigned long long)mysql_stmt_affected_rows(stmt));
	}
	mysql_stmt_close(stmt);
	mysql_close(db);
	return 0;
}
