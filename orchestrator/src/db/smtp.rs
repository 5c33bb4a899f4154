//! The SMTP AUTH password of event e-mail (one row), encrypted by `secrets`.

use sqlx::AnyConnection;

use super::DbError;

/// The stored ciphertext, if a password is set.
pub async fn password(conn: &mut AnyConnection) -> Result<Option<String>, DbError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT password_enc FROM smtp_credentials WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(p,)| p))
}

/// Sets or replaces the ciphertext.
pub async fn set_password(
    conn: &mut AnyConnection,
    password_enc: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO smtp_credentials (id, password_enc, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET password_enc = excluded.password_enc, \
         updated_at = excluded.updated_at",
    )
    .bind(password_enc)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the password.
pub async fn clear_password(conn: &mut AnyConnection) -> Result<(), DbError> {
    sqlx::query("DELETE FROM smtp_credentials WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
