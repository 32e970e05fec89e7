return require("migration").define(function()
  migration("Create todos", function()
    database("sqlite", function()
      up(function(db)
        local _, err = db:execute([[
          CREATE TABLE todos (
            id    INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            done  INTEGER NOT NULL DEFAULT 0
          )
        ]])
        if err then error(err) end
      end)
      down(function(db) db:execute("DROP TABLE IF EXISTS todos") end)
    end)
  end)
end)
