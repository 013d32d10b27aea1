//! DSPy interchange: reading DSPy `program.save("x.json")` files and writing them.
