nullIf(toFloat64OrNull("LogonCount"), CAST('nan' AS Nullable(Float64))) > -5 AND nullIf(toFloat64OrNull("Size"), CAST('nan' AS Nullable(Float64))) <= 2.5
